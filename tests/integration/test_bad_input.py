"""Bad input never harms the server: every validation rule of the ingest API
answers 4xx with the offending field, mixed batches store the valid events and
quarantine the rest, duplicates are stored once, and no request gets a 5xx."""

import gzip
import json
import random

from facet_server import (FacetServer, ServerTestCase, basic_auth, identify, main, make_event,
                          new_id, track)


def error_fields(body):
    """Every `field` named by an error reply, top level and per event."""
    fields = []
    if isinstance(body, dict):
        if body.get("field"):
            fields.append(body["field"])
        for key in ("errors", "quarantined"):
            items = body.get(key)
            if isinstance(items, list):
                fields.extend(e["field"] for e in items if isinstance(e, dict) and e.get("field"))
    return fields


def names_field(field, expected):
    """True if `field` is `expected`, possibly as a dotted path's last part
    ("batch[3].event" names "event")."""
    return field == expected or field.endswith("." + expected)


class BadInputTest(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = FacetServer(name="bad-input").start()

    def events_stored(self):
        return self.server.stats()["events"]

    def assert_rejected(self, path, body, field=None, status=400, **kw):
        """Posts `body`, expects `status` with a JSON error naming `field`, and
        that nothing was stored."""
        before = self.events_stored()
        r = self.server.ingest(path, body, **kw)
        self.assertEqual(r.status, status, f"{path} {str(body)[:200]} -> {r!r}")
        reply = r.json()
        self.assertIsInstance(reply, dict, r)
        has_error = isinstance(reply.get("error"), str) and reply["error"] or reply.get("errors")
        self.assertTrue(has_error, f"no error in reply: {r!r}")
        if field is not None:
            fields = error_fields(reply)
            self.assertTrue(any(names_field(f, field) for f in fields),
                            f"expected field {field!r}, got {fields}: {r!r}")
        self.assertEqual(self.events_stored(), before, "a rejected request stored events")
        return reply

    # ---- whole-request errors ---------------------------------------------

    def test_malformed_json(self):
        for body in (b'{"batch": [', b"{not json}", b'{"batch": [{"type": "track",}]}',
                     b"", b"\x00\x01\x02", b'{"userId": "u", "event": "E"'):
            for path in ("/v1/batch", "/v1/track"):
                with self.subTest(path=path, body=body):
                    reply = self.assert_rejected(path, body, content_type="application/json")
                    if "error" in reply:
                        # The body as a whole is at fault: no batch index.
                        self.assertEqual(reply.get("field"), "body", reply)
                        self.assertNotIn("index", reply)

    def test_json_not_an_object(self):
        for body in ("[1, 2, 3]", '"text"', "42", "null", "true"):
            for path in ("/v1/batch", "/v1/identify"):
                with self.subTest(path=path, body=body):
                    self.assert_rejected(path, body)

    def test_batch_not_an_array(self):
        for batch in ({"type": "track", "userId": "u", "event": "E"}, "events", 7, None):
            with self.subTest(batch=batch):
                self.assert_rejected("/v1/batch", {"batch": batch}, field="batch")
        self.assert_rejected("/v1/batch", {"events": []}, field="batch")

    def test_invalid_utf8_and_deep_nesting(self):
        self.assert_rejected("/v1/track", b'{"userId": "u\xff\xfe", "event": "E"}')
        deep = b'{"userId": "u", "event": "E", "properties": ' + b'{"a": ' * 20000 + b"1" \
            + b"}" * 20000 + b"}"
        r = self.server.ingest("/v1/track", deep)
        self.assertLess(r.status, 500, r)
        self.assertIn(r.status, (200, 400, 413), r)
        r = self.server.ingest("/v1/batch", b"[" * 100000)
        self.assertIn(r.status, (400, 413), r)

    # ---- per-event rules ----------------------------------------------------

    def test_missing_user_id_and_anonymous_id(self):
        for path, body in (
                ("/v1/track", {"event": "Viewed", "messageId": new_id()}),
                ("/v1/identify", {"traits": {"a": 1}}),
                ("/v1/track", {"event": "Viewed", "userId": ""}),
                ("/v1/track", {"event": "Viewed", "userId": None, "anonymousId": None}),
                ("/v1/batch", {"batch": [{"type": "track", "event": "Viewed"}]})):
            with self.subTest(path=path, body=body):
                self.assert_rejected(path, body, field="userId")

    def test_track_without_event(self):
        for body in ({"userId": "u1"}, {"userId": "u1", "event": ""},
                     {"userId": "u1", "event": 12}, {"userId": "u1", "event": None}):
            with self.subTest(body=body):
                self.assert_rejected("/v1/track", body, field="event")
        self.assert_rejected("/v1/batch", {"batch": [{"type": "track", "userId": "u1"}]},
                             field="event")

    def test_wrong_types_name_the_field(self):
        cases = [
            ("/v1/track", {"userId": "u", "event": "E", "properties": "cheap"}, "properties"),
            ("/v1/track", {"userId": "u", "event": "E", "properties": [1, 2]}, "properties"),
            ("/v1/identify", {"userId": "u", "traits": "vip"}, "traits"),
            ("/v1/identify", {"userId": "u", "traits": ["vip"]}, "traits"),
            ("/v1/track", {"userId": "u", "event": "E", "context": 5}, "context"),
            ("/v1/track", {"userId": "u", "event": "E", "messageId": 12345}, "messageId"),
            ("/v1/track", {"userId": "u", "event": "E", "messageId": {"id": 1}}, "messageId"),
            ("/v1/track", {"userId": "u", "event": "E", "timestamp": "yesterday"}, "timestamp"),
            ("/v1/track", {"userId": "u", "event": "E", "timestamp": "2024-13-45T99:00:00Z"},
             "timestamp"),
            ("/v1/track", {"userId": "u", "event": "E", "originalTimestamp": "soon"},
             "originalTimestamp"),
            ("/v1/track", {"userId": {"id": 1}, "event": "E"}, "userId"),
            ("/v1/alias", {"userId": "u"}, "previousId"),
            ("/v1/group", {"userId": "u", "traits": {}}, "groupId"),
            ("/v1/batch", {"batch": [{"type": "purchase", "userId": "u"}]}, "type"),
            ("/v1/batch", {"batch": [{"userId": "u", "event": "E"}]}, "type"),
            ("/v1/batch", {"batch": ["not an event"]}, None),
        ]
        for path, body, field in cases:
            with self.subTest(path=path, body=body):
                self.assert_rejected(path, body, field=field)

    def test_event_over_32_kb_is_rejected(self):
        big = track("Big", user_id="u-big", properties={"blob": "x" * (40 * 1024)})
        self.assert_rejected("/v1/track", big)
        ok = track("Small", user_id="u-big")
        before = self.events_stored()
        reply = self.server.batch([big, ok])
        self.assertEqual(reply["accepted"], 1, reply)
        self.assertEqual([q["index"] for q in reply["quarantined"]], [0], reply)
        self.assertIsNone(self.server.event(big["messageId"]))
        self.assertIsNotNone(self.server.event(ok["messageId"]))
        self.assertEqual(self.events_stored(), before + 1)
        # Just under the limit is fine.
        near = track("Near", user_id="u-big", properties={"blob": "y" * (30 * 1024)})
        self.assertEqual(self.server.batch([near])["accepted"], 1)

    def test_body_over_500_kb_is_413(self):
        events = [track("Filler", user_id="u-huge", properties={"pad": "z" * 900})
                  for _ in range(650)]
        body = {"batch": events}
        self.assertGreater(len(json.dumps(body)), 500 * 1024)
        self.assert_rejected("/v1/batch", body, status=413)
        self.assertIsNone(self.server.event(events[0]["messageId"]))
        # The same bytes gzip-compressed: the limit is on the JSON, not the wire.
        r_before = self.events_stored()
        r = self.server.ingest("/v1/batch", body, gzip=True)
        self.assertEqual(r.status, 413, r)
        self.assertEqual(self.events_stored(), r_before)

    def test_gzip_bomb_is_refused(self):
        bomb = gzip.compress(b'{"batch": [' + b" " * (64 * 1024 * 1024) + b"]}")
        r = self.server.ingest("/v1/batch", bomb, headers={"Content-Encoding": "gzip"},
                               content_type="application/json")
        self.assertIn(r.status, (400, 413), r)

    def test_gzip_garbage_is_400(self):
        e = track("Gz", user_id="u-gz")
        good = gzip.compress(json.dumps({"batch": [e]}).encode())
        for body in (b"definitely not gzip", good[: len(good) // 2], b"\x1f\x8b\x08\x00garbage"):
            with self.subTest(body=body[:20]):
                self.assert_rejected("/v1/batch", body,
                                     headers={"Content-Encoding": "gzip"},
                                     content_type="application/json")
        self.assertIsNone(self.server.event(e["messageId"]))

    # ---- auth ----------------------------------------------------------------

    def test_unknown_write_key_is_401(self):
        e = track("Auth", user_id="u-auth")
        self.assert_rejected("/v1/track", e, status=401, auth=basic_auth("wk_unknown"))
        self.assert_rejected("/v1/batch", {"batch": [e], "writeKey": "wk_unknown"},
                             status=401, auth=None)
        self.assert_rejected("/v1/batch", {"batch": [e]}, status=401, auth=None)
        self.assert_rejected("/v1/batch", {"batch": [e]}, status=401,
                             auth="Bearer " + "wk_unknown")
        self.assertIsNone(self.server.event(e["messageId"]))
        # The write key in the body is enough.
        r = self.server.ingest("/v1/batch", {"batch": [e], "writeKey": self.server.write_key},
                               auth=None)
        self.assertEqual(r.status, 200, r)
        self.assertIsNotNone(self.server.event(e["messageId"]))

    def test_admin_endpoints_need_the_admin_key(self):
        wk = self.server.write_key
        for path in ("/v1/stats", "/v1/persons/user_id/u1", "/v1/events/m1",
                     "/v1/quarantine?limit=1", "/metrics"):
            with self.subTest(path=path):
                r = self.server.get(path, auth=None)
                self.assertEqual(r.status, 401, r)
                r = self.server.get(path, auth="Bearer ak_unknown")
                self.assertEqual(r.status, 401, r)
                r = self.server.get(path, auth="Bearer " + wk)
                self.assertEqual(r.status, 403, r)
                r = self.server.get(path, auth=basic_auth(wk))
                self.assertEqual(r.status, 403, r)
        r = self.server.post("/v1/merges/1/undo", auth="Bearer " + wk)
        self.assertEqual(r.status, 403, r)

    # ---- batches: valid stored, invalid quarantined --------------------------

    def test_mixed_batch_stores_valid_and_quarantines_invalid(self):
        user = new_id("u-mixed")
        events = [
            track("Order Completed", user_id=user, properties={"revenue": 12}),
            make_event("track", event="No Identity"),
            identify(user_id=user, traits={"tier": "A"}),
            make_event("track", user_id=user),
            track("Bad Props", user_id=user, properties="nope"),
        ]
        before = self.events_stored()
        reply = self.server.batch(events)
        self.assertIs(reply["success"], True)
        self.assertEqual(reply["accepted"], 2, reply)
        self.assertEqual(reply["duplicates"], 0, reply)
        got = {q["index"]: q for q in reply["quarantined"]}
        self.assertEqual(sorted(got), [1, 3, 4], reply)
        self.assertTrue(names_field(got[1]["field"], "userId"), got[1])
        self.assertTrue(names_field(got[3]["field"], "event"), got[3])
        self.assertTrue(names_field(got[4]["field"], "properties"), got[4])
        for q in got.values():
            self.assertTrue(q["error"], q)
        self.assertEqual(self.events_stored(), before + 2)
        for i, e in enumerate(events):
            stored = self.server.event(e["messageId"])
            if i in (0, 2):
                self.assertIsNotNone(stored, i)
            else:
                self.assertIsNone(stored, i)

        r = self.server.get("/v1/quarantine?limit=100")
        self.assertEqual(r.status, 200, r)
        entries = r.json()["quarantined"]
        for i in (1, 3, 4):
            mid = events[i]["messageId"]
            match = [q for q in entries if mid in q["raw"]]
            self.assertEqual(len(match), 1, f"quarantine entry for event {i}: {entries[:5]}")
            q = match[0]
            self.assertEqual(q["index"], i)
            self.assertEqual(q["field"], got[i]["field"])
            self.assertTrue(q["error"])
            for key in ("id", "received_at"):
                self.assertIn(key, q)
        self.assertLessEqual(len(self.server.get("/v1/quarantine?limit=2")
                                 .json()["quarantined"]), 2)

    def test_batch_with_no_valid_event_is_400_and_quarantined(self):
        events = [make_event("track", event="Nobody"),
                  make_event("track", user_id="u-novalid"),
                  track("Bad", user_id="u-novalid", properties=[1])]
        reply = self.assert_rejected("/v1/batch", {"batch": events})
        errors = reply.get("errors")
        self.assertIsInstance(errors, list, reply)
        self.assertEqual(sorted(e["index"] for e in errors), [0, 1, 2], reply)
        entries = self.server.get("/v1/quarantine?limit=100").json()["quarantined"]
        for e in events:
            self.assertTrue(any(e["messageId"] in q["raw"] for q in entries), e["messageId"])

    def test_empty_batch_stores_nothing(self):
        before = self.events_stored()
        r = self.server.ingest("/v1/batch", {"batch": []})
        self.assertIn(r.status, (200, 400), r)
        self.assertEqual(self.events_stored(), before)

    def test_random_corruptions_never_get_a_5xx(self):
        rng = random.Random(20240501)
        template = json.dumps({"batch": [
            track("Fuzz", user_id="u-fuzz", properties={"n": 1, "tags": ["a", "b"]}),
            identify(anonymous_id="a-fuzz", traits={"email": "fuzz@example.com"}),
        ]}).encode()
        for i in range(300):
            body = bytearray(template)
            for _ in range(rng.randint(1, 8)):
                op = rng.randrange(3)
                pos = rng.randrange(len(body))
                if op == 0:
                    body[pos] = rng.randrange(256)
                elif op == 1:
                    del body[pos:pos + rng.randint(1, 10)]
                else:
                    body[pos:pos] = bytes(rng.choice(b'{}[]",:\\0aZ\xff')
                                          for _ in range(rng.randint(1, 5)))
            r = self.server.ingest("/v1/batch", bytes(body), content_type="application/json")
            self.assertIn(r.status, (200, 400, 401, 413), f"case {i}: {bytes(body)!r} -> {r!r}")
        self.assertEqual(self.server.get("/healthz", auth=None).status, 200)

    # ---- dedupe ----------------------------------------------------------------

    def test_same_batch_twice_is_stored_once(self):
        user = new_id("u-dup")
        events = [track("Dup", user_id=user, properties={"i": i}) for i in range(5)]
        before = self.server.stats()
        first = self.server.batch(events)
        self.assertEqual((first["accepted"], first["duplicates"]), (5, 0), first)
        mid = self.server.stats()
        self.assertEqual(mid["events"], before["events"] + 5)
        second = self.server.batch(events)
        self.assertEqual((second["accepted"], second["duplicates"]), (0, 5), second)
        self.assertEqual(self.server.stats()["events"], mid["events"])
        self.assertEqual(self.server.person("user_id", user)["event_count"], 5)

        # Same messageIds through a single-event endpoint, another auth form
        # and gzip: still duplicates.
        r = self.server.ingest("/v1/t", dict(events[0], writeKey=self.server.write_key),
                               auth=None, gzip=True)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["duplicates"], 1, r)

        # Within one batch the second copy is a duplicate.
        twin = track("Twin", user_id=user)
        reply = self.server.batch([twin, dict(twin)])
        self.assertEqual((reply["accepted"], reply["duplicates"]), (1, 1), reply)
        self.assertEqual(self.server.person("user_id", user)["event_count"], 6)

    def test_dedupe_ignores_how_old_the_events_are(self):
        # Re-importing history: the events' own timestamps are years old.
        user = new_id("u-dup-old")
        events = [track("Old", user_id=user, timestamp=f"2019-0{i + 1}-01T00:00:00Z")
                  for i in range(4)]
        self.assertEqual(self.server.batch(events)["accepted"], 4)
        reply = self.server.batch(events)
        self.assertEqual((reply["accepted"], reply["duplicates"]), (0, 4), reply)
        self.server.restart(hard=True)
        reply = self.server.batch(events)
        self.assertEqual((reply["accepted"], reply["duplicates"]), (0, 4), reply)
        self.assertEqual(self.server.person("user_id", user)["event_count"], 4)

    def test_dedupe_survives_restart(self):
        user = new_id("u-dup-restart")
        events = [track("Dup Restart", user_id=user, properties={"i": i}) for i in range(7)]
        self.assertEqual(self.server.batch(events)["accepted"], 7)
        count = self.events_stored()
        for hard in (True, False):
            self.server.restart(hard=hard)
            reply = self.server.batch(events)
            self.assertEqual((reply["accepted"], reply["duplicates"]), (0, 7), reply)
            self.assertEqual(self.events_stored(), count)
            self.assertEqual(self.server.person("user_id", user)["event_count"], 7)


    def test_quarantine_survives_restart(self):
        bad = make_event("track", user_id=new_id("u-q"))
        reply = self.server.batch([bad, track("Fine", user_id="u-q")])
        self.assertEqual(len(reply["quarantined"]), 1, reply)
        self.server.restart(hard=True)
        entries = self.server.get("/v1/quarantine?limit=1000").json()["quarantined"]
        self.assertTrue(any(bad["messageId"] in q["raw"] for q in entries),
                        "quarantined event lost across kill -9")

    def test_extreme_values_are_stored_or_refused_cleanly(self):
        user = new_id("u-extreme")
        cases = [
            track("T", user_id=user, timestamp="0001-01-01T00:00:00Z"),
            track("T", user_id=user, timestamp="9999-12-31T23:59:59.999Z"),
            track("T", user_id=user, timestamp="2024-02-30T00:00:00Z"),
            track("T", user_id=user, timestamp="2024-05-01T08:00:00+08:00"),
            track("T", user_id=user, timestamp="2024-05-01T00:00:00.123456789Z"),
            track("T", user_id=user, sentAt="garbage", originalTimestamp="2024-01-01T00:00:00Z"),
            track("T", user_id=user, properties={"revenue": "12.5"}),
            track("T", user_id=user, properties={"revenue": 1e308}),
            track("T", user_id=user, properties={"revenue": -50}),
            track("T", user_id=user, properties={"revenue": None}),
            track("T", user_id=user, properties={"big": 123456789012345678901234567890}),
            track("T" * 5000, user_id=user),
            track("T", user_id="u" * 20000),
            track("T", user_id=user, context={"traits": {"email": "not an email"}}),
            track("T", user_id=user, context={"traits": {"phone": "12"}}),
            track("T", user_id=user, context={"device": {"id": ""}}),
            track("T", user_id=user, context={"device": "ipad"}),
            identify(user_id=user, traits={"email": ["a@b.c"], "phone": {"n": 1}}),
        ]
        for e in cases:
            with self.subTest(event=json.dumps(e)[:120]):
                r = self.server.ingest("/v1/batch", {"batch": [e]})
                self.assertIn(r.status, (200, 400), r)
                stored = self.server.event(e["messageId"])
                if r.status == 200 and r.json()["accepted"] == 1:
                    self.assertIsNotNone(stored)
                else:
                    self.assertIsNone(stored)
        self.assertEqual(self.server.get("/healthz", auth=None).status, 200)
        p = self.server.person("user_id", user)
        self.assertIsNotNone(p)
        self.assertIsInstance(p["revenue"], (int, float))


if __name__ == "__main__":
    main()
