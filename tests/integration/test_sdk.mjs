// The SDKs users already have, against the real `facet serve`:
// @segment/analytics-node (JSON body, Basic auth and writeKey in the body) and
// @rudderstack/rudder-sdk-node (gzip body, Basic auth), plus browser-style
// requests by hand. Events are read back through the admin API, and retries
// (a lost reply, a server restart) must not store anything twice.
//
// Run: node --test tests/integration/test_sdk.mjs   (FACET_BIN = the binary)

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

import { Analytics as SegmentAnalytics } from '@segment/analytics-node';
import RudderAnalytics from '@rudderstack/rudder-sdk-node';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');
const FACET_BIN = process.env.FACET_BIN || path.join(REPO, 'build', 'src', 'app', 'facet');
const WRITE_KEY = 'wk_sdk';
const ADMIN_KEY = 'ak_sdk';
const HOST = '127.0.0.1';

// ---- harness --------------------------------------------------------------

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, HOST, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// Polls `predicate` (sync or async) until it is truthy or the deadline passes.
async function waitUntil(predicate, { deadlineMs = 10000, intervalMs = 25, what = 'condition' } = {}) {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() >= end) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

// One HTTP request on a fresh connection (no pooling, so a restarted server
// never sees a stale socket from the test itself).
function request(port, method, urlPath, { headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: HOST, port, method, path: urlPath, headers, agent: false },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json;
          try { json = JSON.parse(text); } catch { json = undefined; }
          resolve({ status: res.statusCode, headers: res.headers, text, json });
        });
      },
    );
    req.setTimeout(30000, () => req.destroy(new Error(`${method} ${urlPath} timed out`)));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

const basic = (user) => 'Basic ' + Buffer.from(`${user}:`).toString('base64');

class FacetServer {
  constructor() {
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), 'facet-it-sdk-'));
    this.dataDir = path.join(this.root, 'data');
    this.port = undefined;
    this.proc = undefined;
    this.exited = undefined;
    this.logs = [];
  }

  get url() { return `http://${HOST}:${this.port}`; }

  async start() {
    if (!fs.existsSync(FACET_BIN)) throw new Error(`facet binary not found at ${FACET_BIN} (set FACET_BIN)`);
    if (this.port === undefined) this.port = await freePort();
    const log = path.join(this.root, `server-${this.logs.length + 1}.log`);
    this.logs.push(log);
    const fd = fs.openSync(log, 'w');
    const args = ['serve', '--bind', HOST, '--port', String(this.port), '--data-dir', this.dataDir,
      '--server-write-key', WRITE_KEY, '--admin-key', ADMIN_KEY];
    this.proc = spawn(FACET_BIN, args, { stdio: ['ignore', fd, fd], cwd: this.root });
    fs.closeSync(fd);
    this.exited = new Promise((resolve) => this.proc.once('exit', (code, sig) => resolve({ code, sig })));
    let dead = false;
    this.exited.then(() => { dead = true; });
    await waitUntil(async () => {
      if (dead) throw new Error(`server exited at start\n${this.logTail()}`);
      try {
        const r = await request(this.port, 'GET', '/healthz');
        return r.status === 200 && r.json?.status === 'ok';
      } catch { return false; }
    }, { deadlineMs: 60000, what: '/healthz' });
  }

  // SIGKILL by PID.
  async kill() {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    process.kill(this.proc.pid, 'SIGKILL');
    await this.exited;
  }

  // SIGTERM by PID, SIGKILL after a deadline.
  async stop() {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    process.kill(this.proc.pid, 'SIGTERM');
    const timer = setTimeout(() => {
      if (this.proc.exitCode === null && this.proc.signalCode === null) process.kill(this.proc.pid, 'SIGKILL');
    }, 20000);
    await this.exited;
    clearTimeout(timer);
  }

  logTail(lines = 40) {
    return this.logs.slice(-2).map((p) => {
      let text = '';
      try { text = fs.readFileSync(p, 'utf8'); } catch { /* not written yet */ }
      return `--- ${p} ---\n` + text.split('\n').slice(-lines).join('\n');
    }).join('\n');
  }

  async get(urlPath) {
    return request(this.port, 'GET', urlPath, { headers: { Authorization: `Bearer ${ADMIN_KEY}` } });
  }

  async person(ns, value) {
    const r = await this.get(`/v1/persons/${encodeURIComponent(ns)}/${encodeURIComponent(value)}`);
    if (r.status === 404) return null;
    assert.equal(r.status, 200, r.text);
    return r.json;
  }

  async personEvents(ns, value) {
    const out = [];
    let cursor = null;
    for (let i = 0; i < 1000; i++) {
      let p = `/v1/persons/${encodeURIComponent(ns)}/${encodeURIComponent(value)}/events?limit=100`;
      if (cursor) p += `&cursor=${encodeURIComponent(cursor)}`;
      const r = await this.get(p);
      assert.equal(r.status, 200, r.text);
      out.push(...r.json.events);
      cursor = r.json.next;
      if (!cursor) return out;
    }
    throw new Error('events pagination did not end');
  }

  async stats() {
    const r = await this.get('/v1/stats');
    assert.equal(r.status, 200, r.text);
    return r.json;
  }

  async event(messageId) {
    const r = await this.get(`/v1/events/${encodeURIComponent(messageId)}`);
    if (r.status === 404) return null;
    assert.equal(r.status, 200, r.text);
    return r.json;
  }

  async postBatch(body, headers = {}) {
    return request(this.port, 'POST', '/v1/batch', {
      headers: { 'Content-Type': 'application/json', Authorization: basic(WRITE_KEY), ...headers },
      body,
    });
  }
}

const uid = (prefix) => `${prefix}-${randomUUID().slice(0, 8)}`;
const nsValues = (person) => person.identities.map((i) => `${i.ns}:${i.value}`);
const nsCount = (person, ns) => person.identities.filter((i) => i.ns === ns).length;

// A Segment HTTPClient that sends with fetch and records every attempt.
// With loseFirstReply it reports 503 for the first attempt of every batch,
// as if the reply had been lost on the way back.
class RecordingClient {
  constructor({ loseFirstReply = false } = {}) {
    this.loseFirstReply = loseFirstReply;
    this.calls = [];
    this.failures = 0;
  }
  async makeRequest(req) {
    const retry = req.headers['X-Retry-Count'];
    let res;
    let text;
    try {
      res = await fetch(req.url, { method: req.method, headers: req.headers, body: req.body });
      text = await res.text();
    } catch (e) {
      this.failures++;
      throw e;
    }
    this.calls.push({ retry, status: res.status, reply: text, body: req.body });
    if (this.loseFirstReply && !retry) return { status: 503, statusText: 'Service Unavailable', headers: {} };
    return { status: res.status, statusText: res.statusText, headers: res.headers, text: async () => text };
  }
}

// An axios adapter (axiosConfig.adapter of the RudderStack SDK) that sends
// with fetch and turns the reply to the first attempt into a 503.
function losesFirstReplyAdapter() {
  const calls = [];
  const adapter = async (config) => {
    const raw = config.headers?.toJSON ? config.headers.toJSON() : (config.headers ?? {});
    const headers = {};
    for (const [k, v] of Object.entries(raw)) if (v !== undefined && v !== null && v !== false) headers[k] = String(v);
    if (config.auth) headers.Authorization = basic(config.auth.username);
    const attempt = config['axios-retry']?.retryCount ?? 0;
    let res;
    let text;
    try {
      res = await fetch(config.url, { method: config.method.toUpperCase(), headers, body: config.data });
      text = await res.text();
    } catch (e) {
      const err = new Error(e.message);
      err.code = e.cause?.code ?? 'ECONNRESET';
      err.config = config;
      throw err;
    }
    calls.push({ attempt, status: res.status, reply: text, headers });
    const response = { data: text, status: res.status, statusText: res.statusText,
      headers: Object.fromEntries(res.headers), config, request: {} };
    if (attempt === 0 || res.status >= 300) {
      const err = new Error(attempt === 0 ? 'reply lost' : `HTTP ${res.status}`);
      err.config = config;
      err.response = attempt === 0 ? { ...response, status: 503, statusText: 'Service Unavailable' } : response;
      throw err;
    }
    return response;
  };
  return { adapter, calls };
}

// Collects delivery errors of a Segment client.
function watchSegment(client) {
  const errors = [];
  const requests = [];
  client.on('error', (e) => errors.push(e));
  client.on('http_request', (r) => requests.push(r));
  const cb = (err) => { if (err) errors.push(err); };
  return { errors, requests, cb };
}

// ---- tests ------------------------------------------------------------------

describe('facet with real SDKs', () => {
  const server = new FacetServer();
  let failed = false;
  // Wraps a test body so that the server log is printed when it fails.
  const it = (name, fn) => test(name, async (t) => {
    try { await fn(t); } catch (e) { failed = true; throw e; }
  });

  before(async () => { await server.start(); });
  after(async () => {
    await server.stop();
    if (failed) console.error(`\n=== facet server log ===\n${server.logTail()}`);
    else fs.rmSync(server.root, { recursive: true, force: true });
  });

  it('analytics-node: identify, track, page, alias end up on one person', async () => {
    const user = uid('seg-user');
    const anon1 = uid('seg-anon');
    const anon2 = uid('seg-anon');
    const phone = '139' + String(Math.floor(Math.random() * 1e8)).padStart(8, '0');
    const email = `Li.Lei+${user}@Example.COM`;
    const client = new SegmentAnalytics({
      writeKey: WRITE_KEY, host: server.url, flushAt: 4, flushInterval: 100, maxRetries: 3,
    });
    const w = watchSegment(client);
    const ids = [];
    const mid = () => { const m = randomUUID(); ids.push(m); return m; };

    client.identify({ userId: user, messageId: mid(),
      traits: { email, phone, name: '李雷', city: '北京', vip: true } }, w.cb);
    for (const sku of ['A-1', 'B-2', 'C-3']) {
      client.track({ anonymousId: anon1, event: 'Product Viewed', messageId: mid(),
        properties: { sku, price: 99 } }, w.cb);
    }
    client.page({ anonymousId: anon1, name: 'Cart', messageId: mid(),
      properties: { path: '/cart', title: '购物车' } }, w.cb);
    client.identify({ userId: user, anonymousId: anon1, messageId: mid() }, w.cb);
    client.track({ userId: user, event: 'Order Completed', messageId: mid(),
      properties: { revenue: 199.5, currency: 'CNY' } }, w.cb);
    client.track({ anonymousId: anon2, event: 'App Opened', messageId: mid() }, w.cb);
    client.alias({ previousId: anon2, userId: user, messageId: mid() }, w.cb);
    await client.closeAndFlush({ timeout: 30000 });

    assert.deepEqual(w.errors, []);
    assert.ok(w.requests.length >= 3, `expected several batches, got ${w.requests.length}`);
    for (const r of w.requests) assert.equal(new URL(r.url).pathname, '/v1/batch');

    const p = await server.person('user_id', user);
    assert.ok(p, 'person by user_id');
    assert.equal(p.event_count, 9);
    assert.equal(p.counts_by_type.identify, 2);
    assert.equal(p.counts_by_type.track, 5);
    assert.equal(p.counts_by_type.page, 1);
    assert.equal(p.counts_by_type.alias, 1);
    assert.equal(p.event_counts['Product Viewed'], 3);
    assert.equal(p.event_counts['Order Completed'], 1);
    assert.equal(p.event_counts['App Opened'], 1);
    assert.equal(p.revenue, 199.5);
    assert.equal(p.traits.name, '李雷');
    assert.equal(p.traits.city, '北京');
    assert.equal(p.traits.vip, true);
    const idents = nsValues(p);
    assert.ok(idents.includes(`user_id:${user}`), idents.join(', '));
    assert.ok(idents.includes(`anonymous_id:${anon1}`), idents.join(', '));
    assert.ok(idents.includes(`anonymous_id:${anon2}`), idents.join(', '));
    assert.equal(nsCount(p, 'email'), 1);
    assert.equal(nsCount(p, 'phone'), 1);

    for (const [ns, value] of [['anonymous_id', anon1], ['anonymous_id', anon2],
      ['email', email], ['email', email.toLowerCase()], ['phone', phone], ['phone', `+86${phone}`]]) {
      const q = await server.person(ns, value);
      assert.ok(q, `GET /v1/persons/${ns}/${value}`);
      assert.equal(q.person_id, p.person_id, `${ns}/${value}`);
    }

    const events = await server.personEvents('user_id', user);
    assert.deepEqual(events.map((e) => e.message_id).sort(), [...ids].sort());
    for (const e of events) assert.equal(e.person_id, p.person_id);
    const order = events.find((e) => e.event === 'Order Completed');
    assert.equal(order.properties.currency, 'CNY');
    assert.equal(order.context.library?.name, '@segment/analytics-node');
  });

  it('analytics-node: a batch retried after a lost reply is stored once', async () => {
    const user = uid('seg-retry');
    const before = await server.stats();
    const httpClient = new RecordingClient({ loseFirstReply: true });
    const client = new SegmentAnalytics({
      writeKey: WRITE_KEY, host: server.url, flushAt: 3, flushInterval: 100, maxRetries: 3, httpClient,
    });
    const w = watchSegment(client);
    for (let i = 0; i < 6; i++) {
      client.track({ userId: user, event: 'Retried', properties: { i, revenue: 10 } }, w.cb);
    }
    await client.closeAndFlush({ timeout: 30000 });
    assert.deepEqual(w.errors, []);

    const firsts = httpClient.calls.filter((c) => !c.retry);
    const retries = httpClient.calls.filter((c) => c.retry);
    assert.equal(firsts.length, 2, 'two batches of three');
    assert.equal(retries.length, 2, 'each batch retried once');
    for (const c of firsts) {
      assert.equal(c.status, 200, c.reply);
      assert.equal(JSON.parse(c.reply).accepted, 3, c.reply);
    }
    for (const c of retries) {
      assert.equal(c.status, 200, c.reply);
      const reply = JSON.parse(c.reply);
      assert.equal(reply.accepted, 0, c.reply);
      assert.equal(reply.duplicates, 3, c.reply);
    }
    const p = await server.person('user_id', user);
    assert.equal(p.event_count, 6);
    assert.equal(p.revenue, 60);
    assert.equal((await server.stats()).events, before.events + 6);

    // The same bytes once more, by hand: still duplicates.
    const again = await server.postBatch(firsts[0].body);
    assert.equal(again.status, 200, again.text);
    assert.equal(again.json.duplicates, 3, again.text);
    assert.equal((await server.person('user_id', user)).event_count, 6);
  });

  it('analytics-node: events sent while the server restarts arrive once', async () => {
    const user = uid('seg-restart');
    const before = await server.stats();
    await server.kill();
    const httpClient = new RecordingClient();
    const client = new SegmentAnalytics({
      writeKey: WRITE_KEY, host: server.url, flushAt: 4, flushInterval: 100, maxRetries: 10, httpClient,
    });
    const w = watchSegment(client);
    const ids = [];
    for (let i = 0; i < 4; i++) {
      const messageId = randomUUID();
      ids.push(messageId);
      client.track({ userId: user, event: 'During Restart', messageId, properties: { i } }, w.cb);
    }
    // The first attempt fails while the server is down; restart it then.
    await waitUntil(() => httpClient.failures >= 1, { what: 'a failed request while the server is down' });
    await server.start();
    await client.closeAndFlush({ timeout: 60000 });
    assert.deepEqual(w.errors, []);
    assert.equal(httpClient.calls.length, 1, 'one batch delivered after the restart');
    assert.ok(httpClient.calls[0].retry, 'delivered by a retry');
    assert.equal(JSON.parse(httpClient.calls[0].reply).accepted, 4, httpClient.calls[0].reply);

    const p = await server.person('user_id', user);
    assert.ok(p);
    assert.equal(p.event_count, 4);
    for (const id of ids) assert.ok(await server.event(id), id);
    assert.equal((await server.stats()).events, before.events + 4);
  });

  it('rudder-sdk-node: gzip batches with identify, track, page, screen, group, alias', async () => {
    const user = uid('rs-user');
    const anon = uid('rs-anon');
    const prev = uid('rs-prev');
    const email = `${user}@Example.cn`;
    const client = new RudderAnalytics(WRITE_KEY, {
      dataPlaneUrl: server.url, flushAt: 50, flushInterval: 60000, logLevel: 'none', retryCount: 3,
    });
    assert.equal(client.gzip, true, 'the SDK gzips by default');
    const ids = [];
    const mid = () => { const m = randomUUID(); ids.push(m); return m; };
    client.track({ anonymousId: anon, event: 'Product Viewed', messageId: mid(), properties: { sku: 'R-1' } });
    client.track({ anonymousId: anon, event: 'Product Viewed', messageId: mid(), properties: { sku: 'R-2' } });
    client.identify({ userId: user, anonymousId: anon, messageId: mid(),
      traits: { email, name: '韩梅梅', plan: 'gold' } });
    client.page({ userId: user, name: 'Checkout', messageId: mid(), properties: { path: '/checkout' } });
    client.screen({ userId: user, name: 'Home', messageId: mid() });
    client.group({ userId: user, groupId: 'store-42', messageId: mid(), traits: { name: 'Store 42' } });
    client.track({ userId: user, event: 'Order Completed', messageId: mid(),
      properties: { revenue: 88.8, currency: 'CNY' } });
    client.track({ anonymousId: prev, event: 'App Opened', messageId: mid() });
    client.alias({ previousId: prev, userId: user, messageId: mid() });
    await client.flush();

    const p = await server.person('user_id', user);
    assert.ok(p, 'person by user_id');
    assert.equal(p.event_count, ids.length);
    assert.equal(p.event_counts['Product Viewed'], 2);
    assert.equal(p.event_counts['Order Completed'], 1);
    assert.equal(p.counts_by_type.screen, 1);
    assert.equal(p.counts_by_type.group, 1);
    assert.equal(p.revenue, 88.8);
    assert.equal(p.traits.name, '韩梅梅');
    assert.equal(p.traits.plan, 'gold');
    for (const [ns, value] of [['anonymous_id', anon], ['anonymous_id', prev], ['email', email.toUpperCase()]]) {
      const q = await server.person(ns, value);
      assert.ok(q, `GET /v1/persons/${ns}/${value}`);
      assert.equal(q.person_id, p.person_id, `${ns}/${value}`);
    }
    const events = await server.personEvents('user_id', user);
    assert.deepEqual(events.map((e) => e.message_id).sort(), [...ids].sort());
  });

  it('rudder-sdk-node: a batch retried after a lost reply is stored once', async () => {
    const user = uid('rs-retry');
    const before = await server.stats();
    const { adapter, calls } = losesFirstReplyAdapter();
    const client = new RudderAnalytics(WRITE_KEY, {
      dataPlaneUrl: server.url, flushAt: 50, flushInterval: 60000, logLevel: 'none', retryCount: 3,
      axiosConfig: { adapter }, axiosRetryConfig: { retryDelay: () => 50 },
    });
    // The first call flushes at once (a batch of one); the rest go together.
    for (let i = 0; i < 5; i++) client.track({ userId: user, event: 'Rudder Retried', properties: { i } });
    await client.flush();
    const firsts = calls.filter((c) => c.attempt === 0);
    const retries = calls.filter((c) => c.attempt > 0);
    assert.ok(firsts.length >= 1 && retries.length === firsts.length, JSON.stringify(calls));
    for (const c of [...firsts, ...retries]) assert.equal(c.status, 200, c.reply);
    assert.equal(firsts[0].headers['Content-Encoding'] ?? firsts[0].headers['content-encoding'], 'gzip');
    const accepted = firsts.reduce((n, c) => n + JSON.parse(c.reply).accepted, 0);
    const dups = retries.reduce((n, c) => n + JSON.parse(c.reply).duplicates, 0);
    assert.equal(accepted, 5);
    assert.equal(dups, 5);
    assert.equal((await server.person('user_id', user)).event_count, 5);
    assert.equal((await server.stats()).events, before.events + 5);
  });

  it('rudder-sdk-node: events sent while the server restarts arrive once', async () => {
    const user = uid('rs-restart');
    const before = await server.stats();
    let retried = 0;
    await server.kill();
    const client = new RudderAnalytics(WRITE_KEY, {
      dataPlaneUrl: server.url, flushAt: 50, flushInterval: 60000, logLevel: 'none', retryCount: 100,
      axiosRetryConfig: { retryDelay: () => 100, onRetry: () => { retried++; } },
    });
    const ids = [];
    for (let i = 0; i < 3; i++) {
      const messageId = randomUUID();
      ids.push(messageId);
      client.track({ userId: user, event: 'Rudder Restart', messageId, properties: { i } });
    }
    await waitUntil(() => retried >= 1, { what: 'an SDK retry while the server is down' });
    await server.start();
    await client.flush();
    const p = await server.person('user_id', user);
    assert.ok(p);
    assert.equal(p.event_count, 3);
    for (const id of ids) assert.ok(await server.event(id), id);
    assert.equal((await server.stats()).events, before.events + 3);
  });

  it('browser style: gzip text/plain and form-urlencoded bodies with writeKey inside', async () => {
    const user = uid('web-user');
    const anon = uid('web-anon');
    const ev = (type, extra) => ({ type, messageId: randomUUID(), anonymousId: anon,
      timestamp: new Date().toISOString(), ...extra });
    const batch = [
      ev('page', { name: 'Landing', properties: { url: 'http://127.0.0.1/landing' } }),
      ev('track', { event: 'Signed Up', context: { traits: { email: `${user}@example.com` } } }),
      ev('identify', { userId: user, traits: { name: 'Web User' } }),
    ];
    const gz = zlib.gzipSync(JSON.stringify({ batch, writeKey: WRITE_KEY, sentAt: new Date().toISOString() }));
    const r1 = await fetch(`${server.url}/v1/batch`, {
      method: 'POST', body: gz, headers: { 'Content-Type': 'text/plain', 'Content-Encoding': 'gzip' },
    });
    const b1 = await r1.json();
    assert.equal(r1.status, 200, JSON.stringify(b1));
    assert.equal(b1.success, true);
    assert.equal(b1.accepted, 3);

    const single = ev('track', { event: 'Button Clicked', userId: user, writeKey: WRITE_KEY });
    const r2 = await fetch(`${server.url}/v1/t`, {
      method: 'POST', body: JSON.stringify(single),
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(r2.status, 200, await r2.text());

    const r3 = await fetch(`${server.url}/v1/p`, {
      method: 'POST',
      body: zlib.gzipSync(JSON.stringify(ev('page', { name: 'Pricing', writeKey: WRITE_KEY }))),
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Encoding': 'gzip' },
    });
    assert.equal(r3.status, 200, await r3.text());

    // Re-sent by the browser (e.g. from its retry queue): duplicates.
    const r4 = await fetch(`${server.url}/v1/batch`, {
      method: 'POST', body: gz, headers: { 'Content-Type': 'text/plain', 'Content-Encoding': 'gzip' },
    });
    const b4 = await r4.json();
    assert.equal(r4.status, 200, JSON.stringify(b4));
    assert.equal(b4.duplicates, 3);

    const p = await server.person('user_id', user);
    assert.ok(p);
    assert.equal(p.event_count, 5);
    assert.equal((await server.person('anonymous_id', anon)).person_id, p.person_id);
    assert.equal((await server.person('email', `${user}@example.com`)).person_id, p.person_id);

    const bad = await fetch(`${server.url}/v1/batch`, {
      method: 'POST', body: zlib.gzipSync(JSON.stringify({ batch, writeKey: 'wk_wrong' })),
      headers: { 'Content-Type': 'text/plain', 'Content-Encoding': 'gzip' },
    });
    assert.equal(bad.status, 401);
  });
});
