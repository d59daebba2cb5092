"""What a public write key can do: each attack of an internet stranger who
holds only the write key of a web page, against the real server.

Write keys ship inside pages and apps. These tests send what such a key
allows and check that memory stays bounded, that one person cannot capture
or poison another's profile, that nobody can hide another sender's events
behind a guessed messageId, that a heavy audience preview does not stall
ingest, and that exports cannot smuggle spreadsheet formulas or raw PII.
"""

import csv
import io
import json
import os
import re
import sys
import threading
import time

from facet_server import (FacetServer, ServerTestCase, basic_auth, identify, main, make_event,
                          new_id, parse_ts, quote, track, ts, wait_until)

# Python's JSON encoder recurses once per nesting level.
sys.setrecursionlimit(20000)

CLIENT_KEY = "wk_page"          # ships in a web page: anyone has it
SERVER_KEY = "swk_backend"      # the back-end's secret key


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def nested(depth, leaf=1):
    value = leaf
    for _ in range(depth):
        value = {"a": value}
    return value


class TraitMemoryTest(ServerTestCase):
    """Trait keys and nesting must cost memory in proportion to the persons
    that carry them, and be bounded in number and depth."""

    PERSONS = 100_000

    @classmethod
    def setUpClass(cls):
        # No heap reserve: RSS then follows what the server allocates.
        cls.server = FacetServer(name="trait-memory", client_keys=(CLIENT_KEY,),
                                 extra_args=["--heap-reserve-mb", "0"]).start()
        conn = cls.server.connection()
        for start in range(0, cls.PERSONS, 1000):
            batch = [identify(user_id=f"u{i}", traits={"age": 20 + i % 50, "city": "佛山"})
                     for i in range(start, start + 1000)]
            r = cls.server.ingest("/v1/batch", {"batch": batch}, conn=conn,
                                  auth=basic_auth(CLIENT_KEY))
            assert r.status == 200, r
        conn.close()

    def settle(self):
        """RSS after the server has been idle a moment."""
        time.sleep(0.5)
        return rss_bytes(self.server.pid)

    def test_1_two_hundred_numeric_trait_keys(self):
        before = self.settle()
        traits = {f"k{i}_{new_id('t')}": i for i in range(200)}
        r = self.server.ingest("/v1/identify", identify(user_id="attacker-1", traits=traits),
                               auth=basic_auth(CLIENT_KEY))
        self.assertEqual(r.status, 200, r)
        grown = self.settle() - before
        self.assertLess(grown, 10 << 20, f"RSS grew by {grown >> 20} MB")
        # The traits are kept in the profile all the same.
        p = self.server.person("user_id", "attacker-1")
        self.assertEqual(len(p["traits"]), 200)

    def test_2_deeply_nested_trait(self):
        before = self.settle()
        r = self.server.ingest("/v1/identify",
                               identify(user_id="attacker-2", traits={"n": nested(1020)}),
                               auth=basic_auth(CLIENT_KEY))
        self.assertEqual(r.status, 200, r)
        reply = r.json()
        grown = self.settle() - before
        self.assertLess(grown, 10 << 20, f"RSS grew by {grown >> 20} MB")
        self.assertTrue(any("traits.n.a.a.a.*" in w and "not indexed" in w
                            for w in reply.get("warnings", [])), reply)
        metrics = self.server.get("/metrics").text()
        self.assertIn('facet_trait_paths_unindexed{reason="max_trait_depth"} 1', metrics)
        # Stored in the profile as sent.
        p = self.server.person("user_id", "attacker-2")
        self.assertEqual(p["traits"]["n"], nested(1020))

    def test_3_trait_path_count_is_bounded(self):
        # 2,000 paths by default: past them, new paths are stored but not
        # indexed, and the reply says so.
        conn = self.server.connection()
        warned = []
        for round_ in range(12):
            traits = {f"p{round_}_{i}": i for i in range(200)}
            r = self.server.ingest("/v1/identify",
                                   identify(user_id=f"attacker-3-{round_}", traits=traits),
                                   auth=basic_auth(CLIENT_KEY), conn=conn)
            self.assertEqual(r.status, 200, r)
            warned += [w for w in r.json().get("warnings", []) if "distinct trait paths" in w]
        conn.close()
        self.assertGreater(len(warned), 0)
        metrics = self.server.get("/metrics").text()
        indexed = [line for line in metrics.splitlines()
                   if line.startswith("facet_trait_paths_indexed ")]
        self.assertEqual(indexed, ["facet_trait_paths_indexed 2000"])
        # A refused path is still in the profile.
        p = self.server.person("user_id", "attacker-3-11")
        self.assertEqual(p["traits"]["p11_199"], 199)



class ProfileCaptureTest(ServerTestCase):
    """A client (public) key cannot attach itself to another person through
    a shared email or phone, nor take over a lead, nor pin a trait forever
    with a far-future timestamp."""

    @classmethod
    def setUpClass(cls):
        cls.server = FacetServer(name="capture", client_keys=(CLIENT_KEY,),
                                 write_keys=(SERVER_KEY,)).start()

    def client(self, path, body):
        return self.server.ingest(path, body, auth=basic_auth(CLIENT_KEY))

    def backend(self, path, body):
        return self.server.ingest(path, body, auth=basic_auth(SERVER_KEY))

    def test_email_and_phone_capture(self):
        for ns, value in (("email", f"{new_id('victim')}@example.com"),
                          ("phone", "+861380013" + str(int(time.time() * 1000))[-4:])):
            victim_uid, atk_anon = new_id("victim"), new_id("atk")
            r = self.backend("/v1/identify", identify(user_id=victim_uid,
                                                      traits={ns: value, "name": "Victim"}))
            self.assertEqual(r.status, 200, r)
            self.assertEqual(self.backend("/v1/track", track("Order Completed", user_id=victim_uid,
                                                             properties={"revenue": 100})).status, 200)
            victim = self.server.person("user_id", victim_uid)

            r = self.client("/v1/identify", identify(anonymous_id=atk_anon,
                                                     traits={ns: value, "name": "Attacker"}))
            self.assertEqual(r.status, 200, r)
            r = self.client("/v1/track", track("Order Completed", anonymous_id=atk_anon,
                                               properties={"revenue": 999}))
            self.assertEqual(r.status, 200, r)

            after = self.server.person("user_id", victim_uid)
            self.assertEqual(after["person_id"], victim["person_id"])
            self.assertEqual(after["revenue"], 100, after)
            self.assertEqual(after["traits"]["name"], "Victim")
            self.assertEqual(self.server.person(ns, value)["person_id"], victim["person_id"])
            attacker = self.server.person("anonymous_id", atk_anon)
            self.assertNotEqual(attacker["person_id"], victim["person_id"])
            self.assertEqual(attacker["revenue"], 999)
            self.assertEqual([c["ns"] for c in attacker["unverified"]], [ns], attacker)
            self.assertNotIn(ns, [i["ns"] for i in attacker["identities"]])
            refused = [m for m in self.server.merges("anonymous_id", atk_anon)
                       if m["status"] == "refused"]
            self.assertEqual(len(refused), 1, refused)
            self.assertIn("client write key", refused[0]["detail"])

    def test_lead_takeover(self):
        lead_email = f"{new_id('lead')}@example.com"
        crm_id, atk_uid, lead_uid = new_id("crm"), new_id("atk-uid"), new_id("lead-uid")
        self.assertEqual(self.backend("/v1/identify", identify(
            anonymous_id=crm_id, traits={"email": lead_email, "name": "王芳"})).status, 200)
        lead = self.server.person("email", lead_email)
        for _ in range(2):  # the second time atk-uid is already known
            r = self.client("/v1/identify", identify(user_id=atk_uid, traits={"email": lead_email}))
            self.assertEqual(r.status, 200, r)
        self.assertEqual(self.server.person("email", lead_email)["person_id"], lead["person_id"])
        self.assertNotEqual(self.server.person("user_id", atk_uid)["person_id"], lead["person_id"])
        # The lead's real sign-up, reported by the back-end, links and is not refused.
        r = self.backend("/v1/identify", identify(user_id=lead_uid, traits={"email": lead_email}))
        self.assertEqual(r.status, 200, r)
        signed_up = self.server.person("user_id", lead_uid)
        self.assertEqual(signed_up["person_id"], lead["person_id"])
        self.assertEqual([i["value"] for i in signed_up["identities"] if i["ns"] == "user_id"],
                         [lead_uid])
        # The only refusal on the lead's record is the attacker's link.
        refused = [m for m in self.server.merges("user_id", lead_uid) if m["status"] == "refused"]
        self.assertEqual([m["detail"] for m in refused],
                         ["email from a client write key does not link persons"])

    def test_signed_in_user_confirms_own_email(self):
        uid = new_id("member")
        email = f"{uid}@example.com"
        self.assertEqual(self.backend("/v1/identify", identify(user_id=uid)).status, 200)
        r = self.client("/v1/identify", identify(user_id=uid, traits={"email": email}))
        self.assertEqual(r.status, 200, r)
        p = self.server.person("email", email)
        self.assertIsNotNone(p)
        self.assertEqual(p["unverified"], [])

    def test_future_timestamp_does_not_win_forever(self):
        uid = new_id("clock")
        r = self.client("/v1/identify", identify(user_id=uid, traits={"plan": "forged"},
                                                 timestamp="9999-01-01T00:00:00Z"))
        self.assertEqual(r.status, 200, r)
        self.assertTrue(any("ahead of the server's clock" in w for w in r.json().get("warnings", [])), r)
        p = self.server.person("user_id", uid)
        self.assertLess(parse_ts(p["last_seen"]), time.time() + 25 * 3600, p)
        r = self.client("/v1/identify", identify(user_id=uid, traits={"plan": "gold"}))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.server.person("user_id", uid)["traits"]["plan"], "gold")

    def test_ancient_and_skewed_timestamps_are_refused(self):
        uid = new_id("ancient")
        self.assertEqual(self.client("/v1/track", track("Seen", user_id=uid)).status, 200)
        before = self.server.person("user_id", uid)
        for fields in ({"timestamp": "1999-12-31T23:59:59Z"},
                       {"originalTimestamp": "0001-01-01T00:00:00Z", "sentAt": "9999-01-01T00:00:00Z"}):
            r = self.client("/v1/track", track("Seen", user_id=uid, **fields))
            self.assertEqual(r.status, 400, r)
            self.assertIn("before 2000-01-01", r.json()["error"])
        after = self.server.person("user_id", uid)
        self.assertEqual(after["first_seen"], before["first_seen"])
        self.assertEqual(after["event_count"], 1)
        reasons = [q["error"] for q in self.server.get("/v1/quarantine?limit=100").json()["quarantined"]]
        self.assertTrue(any("before 2000-01-01" in e for e in reasons), reasons)

    def test_revenue_cannot_overflow(self):
        uid = new_id("rich")
        for _ in range(2):
            r = self.client("/v1/track", track("Order Completed", user_id=uid,
                                               properties={"revenue": 1e308}))
            self.assertEqual(r.status, 400, r)
            self.assertEqual(r.json()["field"], "properties.revenue", r)
        self.client("/v1/track", track("Order Completed", user_id=uid, properties={"revenue": 5}))
        p = self.server.person("user_id", uid)
        self.assertEqual(p["revenue"], 5, p)



class MessageIdSquattingTest(ServerTestCase):
    """De-duplication is per write key, and a same-id event that differs is
    a conflict kept in the quarantine, never a silent duplicate."""

    @classmethod
    def setUpClass(cls):
        cls.server = FacetServer(name="squatting", client_keys=(CLIENT_KEY,),
                                 write_keys=(SERVER_KEY,)).start()

    def test_another_key_cannot_hide_an_event(self):
        mid, buyer = new_id("order"), new_id("buyer")
        junk = track("Junk", user_id=new_id("atk"), message_id=mid)
        r = self.server.ingest("/v1/track", junk, auth=basic_auth(CLIENT_KEY))
        self.assertEqual(r.status, 200, r)
        real = track("Order Completed", user_id=buyer, message_id=mid, properties={"revenue": 88})
        r = self.server.ingest("/v1/track", real, auth=basic_auth(SERVER_KEY))
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json()["accepted"], r.json()["duplicates"]), (1, 0), r.json())
        p = self.server.person("user_id", buyer)
        self.assertEqual(p["revenue"], 88, p)
        self.assertEqual(self.server.event(mid)["event"], "Order Completed")

    def test_same_id_different_body_is_a_conflict(self):
        mid, uid = new_id("order"), new_id("buyer")
        first = track("Order Completed", user_id=uid, message_id=mid, properties={"revenue": 10})
        self.assertEqual(self.server.ingest("/v1/track", first, auth=basic_auth(CLIENT_KEY)).status, 200)
        # A retry of the same event is a duplicate.
        r = self.server.ingest("/v1/track", first, auth=basic_auth(CLIENT_KEY))
        self.assertEqual((r.json()["accepted"], r.json()["duplicates"]), (0, 1), r.json())
        # Another body (or another person) under the same id is not.
        for other in (dict(first, properties={"revenue": 99999}),
                      dict(first, userId=new_id("someone-else"))):
            r = self.server.ingest("/v1/batch", {"batch": [track("Fine", user_id=uid), other]},
                                   auth=basic_auth(CLIENT_KEY))
            self.assertEqual(r.status, 200, r)
            reply = r.json()
            self.assertEqual((reply["accepted"], reply["duplicates"]), (1, 0), reply)
            self.assertEqual(len(reply["quarantined"]), 1, reply)
            self.assertEqual(reply["quarantined"][0]["field"], "batch[1].messageId", reply)
            self.assertIn("messageId conflict", reply["quarantined"][0]["error"])
        self.assertEqual(self.server.person("user_id", uid)["revenue"], 10)



class PreviewStallTest(ServerTestCase):
    """A costly audience preview runs in slices beside ingest and stops at
    its time budget; ingest's latency does not follow it."""

    PERSONS = 40_000
    EVENTS_PER_PERSON = 10

    @classmethod
    def setUpClass(cls):
        cls.server = FacetServer(name="preview-stall").start()
        config = os.path.join(cls.server.root, "facet.yaml")
        with open(config, "w") as f:
            f.write("segments:\n  eval_budget: 250ms\n")
        cls.server.stop()
        cls.server.extra_args = ["--config", config]
        cls.server.start()
        conn = cls.server.connection()
        batch = []
        for i in range(cls.PERSONS):
            for k in range(cls.EVENTS_PER_PERSON):
                batch.append(track("Product Viewed", user_id=f"p{i}",
                                   properties={"x": f"item-{k}", "price": k}))
            if i % 100 == 0:
                batch.append(identify(user_id=f"p{i}", traits={"city": f"c{i % 1000}"}))
            if len(batch) >= 1000:
                assert cls.server.ingest("/v1/batch", {"batch": batch}, conn=conn).status == 200
                batch = []
        conn.close()

    HEAVY = " OR ".join(f'count("*" WHERE properties.x CONTAINS "q{i}", 100000d) >= 1'
                        for i in range(120))

    def test_heavy_preview_does_not_stall_ingest(self):
        stop = threading.Event()
        previews = []

        def preview_loop():
            while not stop.is_set():
                t = time.monotonic()
                r = self.server.post("/v1/segments/preview", {"expression": self.HEAVY, "sample": 0})
                previews.append((r, time.monotonic() - t))

        worker = threading.Thread(target=preview_loop)
        worker.start()
        try:
            time.sleep(0.3)  # the first preview is running
            conn = self.server.connection()
            latencies = []
            deadline = time.monotonic() + 4.0
            while time.monotonic() < deadline:
                t = time.monotonic()
                r = self.server.ingest("/v1/track", track("Ping", user_id=new_id("live")), conn=conn)
                latencies.append(time.monotonic() - t)
                self.assertEqual(r.status, 200, r)
            conn.close()
        finally:
            stop.set()
            worker.join()
        latencies.sort()
        p99 = latencies[int(len(latencies) * 0.99) - 1]
        self.assertGreater(len(latencies), 100)
        self.assertLess(p99, 0.050, f"ingest p99 {p99 * 1000:.1f} ms over {len(latencies)} requests")
        # The preview itself stopped at its budget, with a clear reply.
        r, took = previews[0]
        self.assertEqual(r.status, 400, r)
        self.assertIn("budget of 250 ms", r.json()["error"])
        self.assertLess(took, 5.0)

    def test_long_or_chains_are_linear(self):
        # 15,000 terms read in linear time: the parser reports an error at the
        # very end with its line and column, which it used to compute from the
        # start of the text for every token.
        terms = [f'trait.city = "c{i}"' for i in range(15_000)]
        expr = " OR\n".join(terms) + " OR )"
        t = time.monotonic()
        r = self.server.post("/v1/segments/preview", {"expression": expr, "sample": 0})
        took = time.monotonic() - t
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json()["line"], 15_000, r.json())
        self.assertLess(took, 3.0)


class SmallFindingsTest(ServerTestCase):
    """Exports safe to open in a spreadsheet, personal data hashed whatever
    its trait is called, and the smaller API contract fixes."""

    PII_ADMIN = "ak_pii"

    @classmethod
    def setUpClass(cls):
        cls.server = FacetServer(name="small-findings", admin_keys=("ak_plain", cls.PII_ADMIN),
                                 extra_args=["--pii-key", cls.PII_ADMIN]).start()
        cls.server.admin_key = "ak_plain"

    def put_segment(self, name, expression):
        r = self.server.request("PUT", f"/v1/segments/{name}", {"expression": expression})
        self.assertEqual(r.status, 200, r)

    def test_csv_export_escapes_formulas(self):
        self.server.batch([
            identify(user_id="=HYPERLINK(\"http://x\")", traits={"note": "=1+2", "city": "-2+3", "grp": "csv"}),
            identify(user_id="@SUM(A1)", traits={"note": "+cmd", "city": "\tTab", "grp": "csv"}),
            identify(user_id="plain", traits={"note": "ok", "city": "\rCR", "grp": "csv", "score": -5}),
        ])
        self.put_segment("csv_attack", 'trait.grp = "csv"')
        r = self.server.get("/v1/segments/csv_attack/members?format=csv&ns=user_id&traits=note,city,score,%2Bx,%3Dy")
        self.assertEqual(r.status, 200, r)
        rows = list(csv.reader(io.StringIO(r.text(), newline="")))
        self.assertEqual(rows[0], ["person_id", "user_id", "note", "city", "score", "'+x", "'=y"])
        self.assertEqual(len(rows), 4, rows)
        for row in rows:
            for cell in row:
                self.assertFalse(cell[:1] in ("=", "+", "@", "\t", "\r"), f"{cell!r} in {row}")
                self.assertFalse(cell.startswith("-") and cell != "-5", f"{cell!r} in {row}")
        cells = {c for row in rows for c in row}
        self.assertIn("'=1+2", cells)
        self.assertIn("'@SUM(A1)", cells)
        self.assertIn("-5", cells)  # a number stays a number

    def test_pii_trait_name_variants_are_hashed(self):
        self.server.batch([identify(user_id="pii-1", traits={
            "Email": "Li.Lei@Example.com", "contact": {"email": "c@example.com"}, "mobile": "13800138000",
            "grp": "pii"})])
        self.put_segment("pii_variants", 'trait.grp = "pii"')
        path = "/v1/segments/pii_variants/members?format=ndjson&ns=user_id&traits=Email,contact.email,mobile"
        line = json.loads(self.server.get(path).text().splitlines()[0])
        for col in ("Email", "contact.email", "mobile"):
            self.assertRegex(line[col], r"^[0-9a-f]{64}$", line)
        raw = json.loads(self.server.get(path + "&raw=true", auth="Bearer " + self.PII_ADMIN).text().splitlines()[0])
        self.assertEqual(raw["mobile"], "13800138000")
        r = self.server.post("/v1/segments/preview", {"expression": 'trait.grp = "pii"', "breakdown": "trait.mobile"})
        self.assertEqual(r.status, 200, r)
        self.assertNotIn("13800138000", r.text())
        self.assertTrue(all(re.fullmatch(r"[0-9a-f]{64}", k) for k in r.json()["breakdown"]), r.json())

    def test_unknown_namespace_is_400(self):
        r = self.server.get("/v1/persons/unknown_ns/x")
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json()["field"], "ns")
        self.assertEqual(self.server.get("/v1/persons/email/nobody%40example.com").status, 404)

    def test_errors_carry_no_null_field_or_negative_index(self):
        for r in (self.server.get("/v1/persons/user_id/nobody"),
                  self.server.ingest("/v1/track", b"{not json", content_type="application/json"),
                  self.server.get("/v1/nothing")):
            body = r.json()
            self.assertNotIn(None, body.values(), body)
            self.assertGreaterEqual(body.get("index", 0), 0, body)

    def test_bad_key_is_refused_before_the_body_is_read(self):
        # Not gzip at all, declared as gzip: with a wrong key the reply is 401,
        # not a decompression error, so nothing was inflated or parsed.
        r = self.server.ingest("/v1/batch", b"\x1f\x8b garbage", auth=basic_auth("wk_wrong"),
                               headers={"Content-Encoding": "gzip"})
        self.assertEqual(r.status, 401, r)

    def test_stats_survive_a_restart(self):
        uid = new_id("stats")
        e = track("Counted", user_id=uid)
        self.server.batch([e, e, make_event("track", user_id=uid)])  # 1 stored, 1 duplicate, 1 invalid
        before = self.server.stats()
        self.assertGreaterEqual(before["rejected"], 1)
        self.server.restart()
        after = self.server.stats()
        for k in ("accepted", "rejected", "deduplicated", "events", "persons"):
            self.assertEqual(after[k], before[k], k)


if __name__ == "__main__":
    main()
