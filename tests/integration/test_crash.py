"""Durability under kill -9: a writer streams batches over keep-alive while
the server is killed at random moments and restarted on the same data dir.
Every acknowledged event must be readable afterwards, and no event may be
stored twice, whether it was retried after an outage or re-sent on purpose.

Environment: FACET_CRASH_SEED (random seed), FACET_CRASH_KILLS (default 30).
"""

import http.client
import json
import os
import random
import threading
import time

from facet_server import (FacetServer, ServerTestCase, basic_auth, main, quote, wait_until)

BATCH_SIZE = 20
USERS = 40
WRITERS = 2
MAX_BATCHES = 3000          # bounds each writer: at most 60,000 events
WRITER_DEADLINE_S = 240.0   # and at most this long
PROGRESS_DEADLINE_S = 60.0


class Writer(threading.Thread):
    """Sends batches until stopped; remembers what was sent and acked."""

    def __init__(self, server, seed, name):
        super().__init__(name=f"crash-writer-{name}", daemon=True)
        self.server = server
        self.prefix = f"crash-{name}"
        self.rng = random.Random(seed)
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self.sent = set()       # every messageId that reached the wire
        self.acked = set()      # messageIds in a batch answered 200
        self.acked_batches = []
        self.violations = []
        self.failures = 0       # requests that got no answer
        self.resends = 0
        self.retries = 0
        self.next_batch = 0

    def make_batch(self):
        n = self.next_batch
        self.next_batch += 1
        return [{
            "type": "track",
            "messageId": f"{self.prefix}-{n}-{j}",
            "userId": f"crash-user-{(n * BATCH_SIZE + j) % USERS}",
            "event": "Crash Test",
            "properties": {"batch": n, "index": j, "revenue": 1},
            "timestamp": "2024-06-01T00:00:00Z",
        } for j in range(BATCH_SIZE)]

    def acked_count(self):
        with self.lock:
            return len(self.acked_batches)

    def run(self):
        conn = None
        pending = None
        auth = basic_auth(self.server.write_key)
        end = time.monotonic() + WRITER_DEADLINE_S
        while not self.stop_flag.is_set() and time.monotonic() < end:
            kind = "new"
            if pending is not None:
                batch, kind = pending, "retry"
            elif self.acked_batches and self.rng.random() < 0.05:
                batch, kind = self.rng.choice(self.acked_batches), "resend"
            elif self.next_batch >= MAX_BATCHES:
                break
            else:
                batch = self.make_batch()
            ids = [e["messageId"] for e in batch]
            data = json.dumps({"batch": batch})
            headers = {"Content-Type": "application/json", "Authorization": auth}
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=15)
                try:
                    conn.connect()
                except OSError:
                    conn = None
                    if kind != "resend":
                        pending = batch
                    self.stop_flag.wait(0.01)  # back off while the server restarts
                    continue
            with self.lock:
                self.sent.update(ids)
            try:
                conn.request("POST", "/v1/batch", body=data, headers=headers)
                r = conn.getresponse()
                body = r.read()
            except (OSError, http.client.HTTPException):
                # Cut by a kill: the batch may or may not be stored. Mostly
                # retry it, as SDKs do; sometimes give it up.
                conn.close()
                conn = None
                self.failures += 1
                if kind != "resend":
                    pending = batch if self.rng.random() < 0.8 else None
                continue
            if r.status != 200:
                self.violations.append(f"{kind} batch {ids[0]}: HTTP {r.status} {body[:200]!r}")
                pending = None
                continue
            try:
                reply = json.loads(body)
                accepted, duplicates = reply["accepted"], reply["duplicates"]
            except (ValueError, KeyError, TypeError) as e:
                self.violations.append(f"{kind} batch {ids[0]}: bad reply {body[:200]!r} ({e})")
                continue
            if kind == "new" and (accepted, duplicates) != (BATCH_SIZE, 0):
                self.violations.append(f"new batch {ids[0]}: accepted={accepted} "
                                       f"duplicates={duplicates}, expected {BATCH_SIZE}/0")
            elif kind == "retry" and accepted + duplicates != BATCH_SIZE:
                self.violations.append(f"retried batch {ids[0]}: accepted={accepted} "
                                       f"duplicates={duplicates}, expected a sum of {BATCH_SIZE}")
            elif kind == "resend" and (accepted, duplicates) != (0, BATCH_SIZE):
                self.violations.append(f"re-sent acked batch {ids[0]}: accepted={accepted} "
                                       f"duplicates={duplicates}, expected 0/{BATCH_SIZE}")
            if kind == "resend":
                self.resends += 1
            else:
                if kind == "retry":
                    self.retries += 1
                pending = None
                with self.lock:
                    self.acked.update(ids)
                    self.acked_batches.append(batch)
        if conn is not None:
            conn.close()


class CrashTest(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = FacetServer(name="crash").start()

    def test_acked_events_survive_kill_9(self):
        seed = int(os.environ.get("FACET_CRASH_SEED") or random.randrange(1 << 30))
        kills = int(os.environ.get("FACET_CRASH_KILLS") or 30)
        print(f"\ncrash test seed {seed}, {kills} kills", flush=True)
        rng = random.Random(seed)
        server = self.server
        writers = [Writer(server, seed + 1 + i, str(i)) for i in range(WRITERS)]
        for w in writers:
            w.start()
        acked = lambda: sum(w.acked_count() for w in writers)
        alive = lambda: all(w.is_alive() for w in writers)
        started = time.monotonic()
        try:
            for i in range(kills):
                # Let the writers get going on this incarnation, then kill at
                # a random moment, most likely in the middle of requests.
                target = acked() + 1 + rng.randrange(4)
                wait_until(lambda: acked() >= target or not alive(),
                           deadline_s=PROGRESS_DEADLINE_S,
                           what=f"writer progress before kill {i + 1}")
                self.assertTrue(alive(), "a writer stopped early")
                time.sleep(rng.uniform(0, 0.15))
                server.kill()
                server.start()
                if rng.random() < 0.2:
                    # Again, before the writers are back: recovery itself
                    # must survive a crash.
                    server.kill()
                    server.start()
            target = acked() + 3
            wait_until(lambda: acked() >= target or not alive(),
                       deadline_s=PROGRESS_DEADLINE_S, what="writer progress after the last kill")
        finally:
            for w in writers:
                w.stop_flag.set()
            for w in writers:
                w.join(timeout=60)
        self.assertFalse(any(w.is_alive() for w in writers), "a writer did not stop")
        sent = set().union(*(w.sent for w in writers))
        acked_ids = set().union(*(w.acked for w in writers))
        violations = [v for w in writers for v in w.violations]
        failures = sum(w.failures for w in writers)
        print(f"writers: {acked()} batches acked, {len(sent)} ids sent, "
              f"{failures} failed requests, {sum(w.retries for w in writers)} retries acked, "
              f"{sum(w.resends for w in writers)} acked batches re-sent, "
              f"{time.monotonic() - started:.1f}s", flush=True)
        self.assertEqual(violations[:20], [], f"{len(violations)} bad replies")
        self.assertGreater(failures, 0, "no request was cut by a kill")

        # One more clean restart, then check everything.
        server.restart()
        found = set()
        conn = server.connection()
        bad = []
        auth = "Bearer " + server.admin_key
        for mid in sorted(sent):
            r = server.get(f"/v1/events/{quote(mid)}", auth=auth, conn=conn)
            if r.status == 200:
                found.add(mid)
                if r.json().get("message_id") != mid:
                    bad.append(f"{mid}: {r.body[:200]!r}")
            elif r.status != 404:
                bad.append(f"{mid}: HTTP {r.status}")
        conn.close()
        self.assertEqual(bad[:20], [])
        lost = acked_ids - found
        self.assertEqual(sorted(lost)[:20], [], f"{len(lost)} acknowledged events lost")
        stats = server.stats()
        self.assertEqual(stats["events"], len(found),
                         "stats events != distinct messageIds stored (an event stored twice?)")
        self.assertEqual(stats["persons"], USERS)
        total = 0
        revenue = 0.0
        for u in range(USERS):
            p = server.person("user_id", f"crash-user-{u}")
            self.assertIsNotNone(p)
            total += p["event_count"]
            revenue += p["revenue"]
        self.assertEqual(total, len(found), "per-person event counts double-counted or lost")
        self.assertAlmostEqual(revenue, len(found))
        print(f"verified: {len(found)} events stored, {len(acked_ids)} acked, "
              f"{time.monotonic() - started:.1f}s", flush=True)


if __name__ == "__main__":
    main()
