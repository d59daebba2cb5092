"""Runs the real `facet serve` binary for end-to-end tests.

    server = FacetServer()            # temp data dir, free loopback port
    server.start()                    # waits for GET /healthz
    r = server.ingest("/v1/batch", {"batch": [...]})
    r = server.get("/v1/stats")       # Bearer admin key
    server.kill()                     # SIGKILL, like a power cut
    server.start()                    # same data dir, same port if it is free
    server.stop()                     # SIGTERM, then SIGKILL after a deadline

The binary is $FACET_BIN, else <repo>/build/src/app/facet. Every server's
output goes to files in its temp dir; `main()` prints their tails when a test
fails and removes the temp dirs when everything passed.

Only 127.0.0.1 is used. Loops are bounded by deadlines, never fixed sleeps.
"""

import base64
import datetime
import gzip as gzip_module
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_BIN = os.path.join(REPO, "build", "src", "app", "facet")
HOST = "127.0.0.1"

WRITE_KEY = "wk_integration"
ADMIN_KEY = "ak_integration"

START_DEADLINE_S = 60.0
STOP_DEADLINE_S = 20.0
REQUEST_TIMEOUT_S = 30.0

_all_servers = []


def facet_bin():
    return os.environ.get("FACET_BIN") or DEFAULT_BIN


def free_port():
    """A port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def port_is_free(port):
    """True if a server could listen on `port` now. Uses SO_REUSEADDR, as
    servers do, so connections in TIME_WAIT do not count."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
        return True


def basic_auth(user, password=""):
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return "Basic " + token


def quote(value):
    """URL-encodes one path segment (slashes included)."""
    return urllib.parse.quote(str(value), safe="")


def new_id(prefix="m"):
    return f"{prefix}-{uuid.uuid4().hex}"


def wait_until(predicate, deadline_s=10.0, interval_s=0.02, what="condition"):
    """Polls `predicate` until it returns a true value or the deadline passes."""
    end = time.monotonic() + deadline_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= end:
            raise AssertionError(f"timed out after {deadline_s}s waiting for {what}")
        time.sleep(interval_s)


class Response:
    def __init__(self, status, headers, body, method, path):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body
        self.method = method
        self.path = path

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise AssertionError(
                f"{self.method} {self.path} -> {self.status}: body is not JSON ({e}): "
                f"{self.body[:300]!r}") from None

    def text(self):
        return self.body.decode("utf-8", errors="replace")

    def __repr__(self):
        return f"<{self.method} {self.path} -> {self.status} {self.body[:300]!r}>"


class ServerError(AssertionError):
    pass


class FacetServer:
    """One `facet serve` process and its data dir, restartable."""

    def __init__(self, write_keys=(WRITE_KEY,), admin_keys=(ADMIN_KEY,), extra_args=(),
                 name="facet", client_keys=()):
        # The tests act as back-ends: `write_keys` are server write keys
        # (--server-write-key); `client_keys` are public ones (--write-key),
        # as pages and apps embed.
        self.server_keys = list(write_keys)
        self.client_keys = list(client_keys)
        self.write_keys = self.server_keys + self.client_keys
        self.admin_keys = list(admin_keys)
        self.write_key = self.write_keys[0] if self.write_keys else None
        self.admin_key = self.admin_keys[0] if self.admin_keys else None
        self.extra_args = list(extra_args)
        self.root = tempfile.mkdtemp(prefix=f"facet-it-{name}-")
        self.data_dir = os.path.join(self.root, "data")
        self.port = None
        self.proc = None
        self.starts = 0
        self.log_paths = []
        # Every response with status >= 500 seen through this harness.
        self.server_errors = []
        _all_servers.append(self)

    # ---- process control -------------------------------------------------

    @property
    def url(self):
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def command(self):
        cmd = [facet_bin(), "serve", "--bind", HOST, "--port", str(self.port),
               "--data-dir", self.data_dir]
        for k in self.client_keys:
            cmd += ["--write-key", k]
        for k in self.server_keys:
            cmd += ["--server-write-key", k]
        for k in self.admin_keys:
            cmd += ["--admin-key", k]
        return cmd + self.extra_args

    def start(self, same_port=True):
        """Starts the server (on its previous port when that is free) and
        waits for /healthz. Raises ServerError with the log tail on failure."""
        if self.running():
            raise ServerError("server already running")
        binary = facet_bin()
        if not os.access(binary, os.X_OK):
            raise ServerError(f"facet binary not found at {binary} (set FACET_BIN)")
        os.makedirs(self.data_dir, exist_ok=True)
        attempts = 3
        for attempt in range(attempts):
            if self.port is None or not same_port or attempt > 0:
                self.port = free_port()
            elif not port_is_free(self.port):
                wait_until(lambda: port_is_free(self.port), deadline_s=10.0,
                           what=f"port {self.port} to be free")
            self.starts += 1
            log_path = os.path.join(self.root, f"server-{self.starts}.log")
            self.log_paths.append(log_path)
            with open(log_path, "wb") as log:
                self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, cwd=self.root)
            if self._wait_healthy(START_DEADLINE_S):
                return self
            if self.proc.poll() is None:
                self.kill()
                raise ServerError(f"server did not answer /healthz within {START_DEADLINE_S}s\n"
                                  + self.log_tail())
            # Exited early: maybe the port was taken in between; try another.
        raise ServerError(f"server exited at start (code {self.proc.returncode})\n"
                          + self.log_tail())

    def _wait_healthy(self, deadline_s):
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                return False
            try:
                conn = http.client.HTTPConnection(HOST, self.port, timeout=2)
                conn.request("GET", "/healthz")
                r = conn.getresponse()
                body = r.read()
                conn.close()
                if r.status == 200 and json.loads(body).get("status") == "ok":
                    return True
            except (OSError, http.client.HTTPException, ValueError):
                pass
            time.sleep(0.02)
        return False

    def kill(self):
        """SIGKILL by PID and reap: no shutdown code runs."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=STOP_DEADLINE_S)

    def stop(self):
        """SIGTERM by PID; SIGKILL if it has not exited by the deadline.
        Returns the exit code (negative for a signal)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_DEADLINE_S)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=STOP_DEADLINE_S)
        return self.proc.returncode

    def restart(self, hard=False):
        if hard:
            self.kill()
        else:
            self.stop()
        return self.start()

    def log_text(self):
        parts = []
        for p in self.log_paths:
            try:
                with open(p, "rb") as f:
                    parts.append(f.read().decode("utf-8", errors="replace"))
            except OSError:
                pass
        return "".join(parts)

    def log_tail(self, lines=40):
        out = []
        for p in self.log_paths[-3:]:
            try:
                with open(p, "rb") as f:
                    text = f.read().decode("utf-8", errors="replace")
            except OSError:
                continue
            tail = text.splitlines()[-lines:]
            out.append(f"--- {p} (last {len(tail)} lines) ---")
            out.extend(tail)
        return "\n".join(out)

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    # ---- HTTP ------------------------------------------------------------

    def auth_header(self, auth):
        """auth: "admin", "write" (Basic), None, or a full header value."""
        if auth == "admin":
            return "Bearer " + self.admin_key
        if auth == "write":
            return basic_auth(self.write_key)
        return auth

    def request(self, method, path, body=None, auth="admin", headers=None, gzip=False,
                content_type=None, conn=None):
        """Sends one request. `body` may be bytes, str or a JSON-able object
        (sent as application/json unless `content_type` says otherwise; ""
        sends no Content-Type). Uses `conn` (kept alive by the caller) or a
        new connection."""
        hdrs = {}
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode("utf-8")
            hdrs["Content-Type"] = "application/json"
        elif isinstance(body, str):
            data = body.encode("utf-8")
        else:
            data = body
        if content_type == "":
            hdrs.pop("Content-Type", None)
        elif content_type is not None:
            hdrs["Content-Type"] = content_type
        if gzip and data is not None:
            data = gzip_module.compress(data)
            hdrs["Content-Encoding"] = "gzip"
        value = self.auth_header(auth)
        if value:
            hdrs["Authorization"] = value
        if headers:
            hdrs.update(headers)
        if data is None and method in ("POST", "PUT"):
            data = b""
        own = conn is None
        c = conn or http.client.HTTPConnection(HOST, self.port, timeout=REQUEST_TIMEOUT_S)
        try:
            c.request(method, path, body=data, headers=hdrs)
            r = c.getresponse()
            resp = Response(r.status, r.getheaders(), r.read(), method, path)
        finally:
            if own:
                c.close()
        if resp.status >= 500:
            self.server_errors.append(resp)
        return resp

    def connection(self):
        return http.client.HTTPConnection(HOST, self.port, timeout=REQUEST_TIMEOUT_S)

    def get(self, path, auth="admin", **kw):
        return self.request("GET", path, auth=auth, **kw)

    def post(self, path, body=None, auth="admin", **kw):
        return self.request("POST", path, body=body, auth=auth, **kw)

    def ingest(self, path, body, auth="write", **kw):
        return self.request("POST", path, body=body, auth=auth, **kw)

    # ---- typed reads (assert the status) -----------------------------------

    def _ok(self, resp, expected=200):
        if resp.status != expected:
            raise AssertionError(f"expected {expected}: {resp!r}")
        return resp.json()

    def batch(self, events, expected=200, **kw):
        return self._ok(self.ingest("/v1/batch", {"batch": events}, **kw), expected)

    def person(self, ns, value):
        """The person for ns/value, or None on 404."""
        r = self.get(f"/v1/persons/{quote(ns)}/{quote(value)}")
        if r.status == 404:
            return None
        return self._ok(r)

    def person_events(self, ns, value, limit=1000):
        """All events of a person, following cursors (newest first)."""
        out = []
        cursor = None
        for _ in range(10000):
            path = f"/v1/persons/{quote(ns)}/{quote(value)}/events?limit={limit}"
            if cursor:
                path += "&cursor=" + urllib.parse.quote(str(cursor), safe="")
            page = self._ok(self.get(path))
            out.extend(page["events"])
            cursor = page.get("next")
            if not cursor:
                return out
        raise AssertionError("events pagination did not end")

    def merges(self, ns, value):
        return self._ok(self.get(f"/v1/persons/{quote(ns)}/{quote(value)}/merges"))["merges"]

    def stats(self):
        return self._ok(self.get("/v1/stats"))

    def event(self, message_id):
        r = self.get(f"/v1/events/{quote(message_id)}")
        if r.status == 404:
            return None
        return self._ok(r)


class ServerTestCase(unittest.TestCase):
    """Fails any test during which the server answered 5xx or died."""

    server = None

    def setUp(self):
        if self.server is not None:
            self._errors_before = len(self.server.server_errors)

    def tearDown(self):
        s = self.server
        if s is None:
            return
        new = s.server_errors[self._errors_before:]
        self.assertEqual(new, [], "server answered 5xx")
        if s.proc is not None:
            self.assertIsNone(s.proc.poll(), f"server exited (code {s.proc.returncode})\n"
                              + s.log_tail())
            r = s.get("/healthz", auth=None)
            self.assertEqual(r.status, 200, r)

    @classmethod
    def tearDownClass(cls):
        if cls.server is not None:
            cls.server.stop()


def make_event(type_, user_id=None, anonymous_id=None, message_id=None, **fields):
    """One Segment message; `fields` are copied as they are (event, traits,
    properties, context, timestamp, previousId, ...)."""
    e = {"type": type_, "messageId": message_id or new_id(type_)}
    if user_id is not None:
        e["userId"] = user_id
    if anonymous_id is not None:
        e["anonymousId"] = anonymous_id
    e.update(fields)
    return e


def track(event, user_id=None, anonymous_id=None, properties=None, **fields):
    return make_event("track", user_id, anonymous_id, event=event,
                      properties=properties or {}, **fields)


def identify(user_id=None, anonymous_id=None, traits=None, **fields):
    return make_event("identify", user_id, anonymous_id, traits=traits or {}, **fields)


def ts(seconds_offset=0, base="2024-05-01T00:00:00"):
    """ISO-8601 UTC timestamp `seconds_offset` after `base`."""
    t = datetime.datetime.fromisoformat(base).replace(tzinfo=datetime.timezone.utc)
    t += datetime.timedelta(seconds=seconds_offset)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def parse_ts(text):
    """Parses an ISO-8601 UTC timestamp from the API into epoch seconds."""
    s = text.strip()
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    t = datetime.datetime.fromisoformat(s)
    if t.tzinfo is None:
        raise AssertionError(f"timestamp without a zone: {text!r}")
    return t.timestamp()


def main():
    """unittest.main that prints server log tails on failure and exits
    non-zero; temp dirs are removed only when every test passed."""
    prog = unittest.main(exit=False, verbosity=2)
    ok = prog.result.wasSuccessful()
    for s in _all_servers:
        s.stop()
        if not ok:
            print(f"\n=== facet server log ({s.root}) ===\n{s.log_tail()}", file=sys.stderr)
        else:
            shutil.rmtree(s.root, ignore_errors=True)
    sys.exit(0 if ok else 1)
