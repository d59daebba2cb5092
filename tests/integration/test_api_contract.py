"""The HTTP contract of `facet serve`: health, metrics, stats, error bodies,
every ingest path and encoding, events pagination and keep-alive."""

import json
import re
import socket
import threading

from facet_server import (FacetServer, ServerTestCase, basic_auth, identify, main, make_event,
                          new_id, parse_ts, quote, track, ts)

REQUIRED_METRICS = (
    "facet_events_accepted_total",
    "facet_events_rejected_total",
    "facet_events_deduplicated_total",
    "facet_persons",
    "facet_merges_total",
)


def metric_values(text):
    """{name{labels}: value} for every sample line of Prometheus text."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})?)\s+(\S+)", line)
        if m:
            out[m.group(1)] = float(m.group(3))
    return out


def metric(values, name):
    """The value of an unlabelled sample, or the sum over its label sets."""
    total = None
    for key, v in values.items():
        if key == name or key.startswith(name + "{"):
            total = (total or 0) + v
    return total


class ApiContractTest(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = FacetServer(name="api", write_keys=("wk_one", "wk_two"),
                                 admin_keys=("ak_one", "ak_two")).start()

    # ---- basics ----------------------------------------------------------------

    def test_healthz_needs_no_auth(self):
        r = self.server.get("/healthz", auth=None)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"status": "ok"})
        self.assertIn("application/json", r.headers.get("content-type", ""))

    def test_prints_its_url_when_listening(self):
        self.assertRegex(self.server.log_text(), rf"http://\S+:{self.server.port}\b")

    def test_every_configured_key_works(self):
        for wk in ("wk_one", "wk_two"):
            e = track("Key Check", user_id="u-keys")
            r = self.server.ingest("/v1/track", e, auth=basic_auth(wk))
            self.assertEqual(r.status, 200, r)
        for ak in ("ak_one", "ak_two"):
            r = self.server.get("/v1/stats", auth="Bearer " + ak)
            self.assertEqual(r.status, 200, r)

    def test_stats_keys(self):
        stats = self.server.stats()
        for key in ("events", "persons", "identities", "merges"):
            self.assertIn(key, stats)
            self.assertIsInstance(stats[key], int, key)
        user = new_id("u-stats")
        before = stats
        self.server.batch([identify(user_id=user, traits={"email": f"{user}@example.com"}),
                           track("Stats", user_id=user)])
        after = self.server.stats()
        self.assertEqual(after["events"], before["events"] + 2)
        self.assertEqual(after["persons"], before["persons"] + 1)
        self.assertEqual(after["identities"], before["identities"] + 2)

    def test_metrics(self):
        user = new_id("u-metrics")
        events = [track("Metric", user_id=user) for _ in range(3)]
        self.server.batch(events)
        self.server.batch(events)
        self.server.ingest("/v1/batch", {"batch": [make_event("track", user_id=user)]})
        r = self.server.get("/metrics")
        self.assertEqual(r.status, 200, r)
        self.assertIn("text/plain", r.headers.get("content-type", ""))
        text = r.text()
        values = metric_values(text)
        for name in REQUIRED_METRICS:
            self.assertIsNotNone(metric(values, name), f"{name} missing from /metrics")
        self.assertGreaterEqual(metric(values, "facet_events_accepted_total"), 3)
        self.assertGreaterEqual(metric(values, "facet_events_deduplicated_total"), 3)
        self.assertGreaterEqual(metric(values, "facet_events_rejected_total"), 1)
        self.assertGreaterEqual(metric(values, "facet_persons"), 1)
        self.assertRegex(text, r"#\s*TYPE\s+facet_http_request_duration_seconds\s+histogram")
        buckets = re.findall(r'^facet_http_request_duration_seconds_bucket\{[^}]*le="([^"]+)"',
                             text, re.M)
        self.assertIn("+Inf", buckets)
        self.assertGreaterEqual(len(set(buckets)), 5, buckets)
        self.assertIsNotNone(metric(values, "facet_http_request_duration_seconds_sum"))
        count = metric(values, "facet_http_request_duration_seconds_count")
        self.assertIsNotNone(count)
        self.assertGreaterEqual(count, 3)
        # Buckets are cumulative: within one label set, counts never decrease.
        series = {}
        for m in re.finditer(r'^facet_http_request_duration_seconds_bucket\{([^}]*)\}\s+(\S+)',
                             text, re.M):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
            le = labels.pop("le")
            bound = float("inf") if le == "+Inf" else float(le)
            series.setdefault(tuple(sorted(labels.items())), []).append((bound, float(m.group(2))))
        for key, points in series.items():
            counts = [c for _, c in sorted(points)]
            self.assertEqual(counts, sorted(counts), f"histogram {key} not cumulative")

    # ---- errors ----------------------------------------------------------------

    def test_unknown_person_and_event_are_404_json(self):
        for path in ("/v1/persons/user_id/" + new_id("nobody"),
                     "/v1/persons/email/" + quote("nobody@example.com"),
                     "/v1/persons/user_id/" + new_id("nobody") + "/events",
                     "/v1/persons/user_id/" + new_id("nobody") + "/merges",
                     "/v1/events/" + new_id("no-event")):
            with self.subTest(path=path):
                r = self.server.get(path)
                self.assertEqual(r.status, 404, r)
                self.assertIn("error", r.json())

    def test_unknown_namespace_is_a_client_error(self):
        r = self.server.get("/v1/persons/shoe_size/42")
        self.assertIn(r.status, (400, 404), r)
        self.assertIn("error", r.json())

    def test_unknown_path_is_404_json(self):
        for path in ("/v1/nothing-here", "/v2/batch", "/"):
            with self.subTest(path=path):
                r = self.server.get(path)
                self.assertEqual(r.status, 404, r)
                self.assertIn("error", r.json())

    def test_wrong_method_is_405_json(self):
        for method, path, auth in (("GET", "/v1/batch", "write"), ("PUT", "/v1/track", "write"),
                                   ("DELETE", "/v1/stats", "admin"),
                                   ("POST", "/v1/stats", "admin"),
                                   ("GET", "/v1/merges/1/undo", "admin")):
            with self.subTest(method=method, path=path):
                r = self.server.request(method, path, auth=auth)
                self.assertEqual(r.status, 405, r)
                self.assertIn("error", r.json())

    # ---- ingest paths and encodings -----------------------------------------------

    def test_every_ingest_path_accepts_its_type(self):
        user = new_id("u-paths")
        bodies = {
            "identify": {"userId": user, "traits": {"name": "李娜"}},
            "track": {"userId": user, "event": "Path Test"},
            "page": {"userId": user, "name": "Home"},
            "screen": {"userId": user, "name": "Main"},
            "group": {"userId": user, "groupId": "g-1", "traits": {}},
            "alias": {"userId": user, "previousId": new_id("a-prev")},
        }
        short = {"identify": "i", "track": "t", "page": "p", "screen": "s", "group": "g",
                 "alias": "a"}
        sent = 0
        for type_, body in bodies.items():
            for path in (f"/v1/{type_}", f"/v1/{short[type_]}"):
                with self.subTest(path=path):
                    e = dict(body, messageId=new_id(type_))
                    r = self.server.ingest(path, e)
                    self.assertEqual(r.status, 200, r)
                    reply = r.json()
                    self.assertIs(reply["success"], True, reply)
                    self.assertEqual(reply["accepted"], 1, reply)
                    stored = self.server.event(e["messageId"])
                    self.assertIsNotNone(stored)
                    self.assertEqual(stored["type"], type_)
                    sent += 1
        r = self.server.ingest("/v1/b", {"batch": [track("Short Batch", user_id=user)]})
        self.assertEqual(r.status, 200, r)
        sent += 1
        p = self.server.person("user_id", user)
        self.assertEqual(p["event_count"], sent)
        self.assertEqual(p["traits"].get("name"), "李娜")
        self.assertEqual(p["counts_by_type"].get("screen"), 2)

    def test_location_without_coordinates_has_null_latitude(self):
        user = new_id("u-loc")
        r = self.server.ingest("/v1/track", track("Store Visited", user_id=user,
                                                 context={"location": {"city": "佛山"}}))
        self.assertEqual(r.status, 200, r)
        loc = self.server.person("user_id", user)["location"]
        self.assertEqual(loc["city"], "佛山")
        self.assertIsNone(loc["latitude"])
        self.assertIsNone(loc["longitude"])
        r = self.server.ingest("/v1/track", track("Store Visited", user_id=user,
                                                 context={"location": {"latitude": 23.02,
                                                                       "longitude": 113.12}}))
        self.assertEqual(r.status, 200, r)
        loc = self.server.person("user_id", user)["location"]
        self.assertAlmostEqual(loc["latitude"], 23.02)

    def test_any_content_type_and_gzip(self):
        user = new_id("u-ctype")
        for ctype in ("application/json", "text/plain", "application/x-www-form-urlencoded",
                      "application/octet-stream", None):
            for gz in (False, True):
                with self.subTest(content_type=ctype, gzip=gz):
                    e = track("Content Type", user_id=user)
                    r = self.server.ingest("/v1/batch", {"batch": [e]}, gzip=gz,
                                           content_type=ctype or "")
                    self.assertEqual(r.status, 200, r)
                    self.assertIsNotNone(self.server.event(e["messageId"]))

    def test_stored_event_fields(self):
        user = new_id("u-fields")
        e = track("Order Completed", user_id=user, anonymous_id=new_id("a"),
                  properties={"revenue": 9.5, "items": [{"sku": "A1", "qty": 2}], "note": "红色"},
                  context={"ip": "127.0.0.1", "locale": "zh-CN"}, timestamp=ts(0))
        self.server.batch([e])
        stored = self.server.event(e["messageId"])
        self.assertEqual(stored["message_id"], e["messageId"])
        self.assertEqual(stored["type"], "track")
        self.assertEqual(stored["event"], "Order Completed")
        self.assertEqual(stored["properties"], e["properties"])
        self.assertEqual(stored["context"].get("locale"), "zh-CN")
        self.assertEqual(parse_ts(stored["timestamp"]), parse_ts(ts(0)))
        self.assertEqual(stored["person_id"], self.server.person("user_id", user)["person_id"])

    def test_url_encoded_values(self):
        user = "用户/1 ?#&"
        email = "a+b.c@example.com"
        self.server.batch([identify(user_id=user, traits={"email": email})])
        p = self.server.person("user_id", user)
        self.assertIsNotNone(p, "GET with an encoded user_id")
        self.assertIn({"ns": "user_id", "value": user}, p["identities"])
        q = self.server.person("email", "A+B.C@Example.COM")
        self.assertIsNotNone(q, "GET with an encoded email")
        self.assertEqual(q["person_id"], p["person_id"])

    def test_phone_lookup_defaults_to_plus_86(self):
        user = new_id("u-phone")
        self.server.batch([identify(user_id=user, traits={"phone": "+8613800138000"})])
        for value in ("13800138000", "+8613800138000", "+86 138 0013 8000"):
            with self.subTest(value=value):
                p = self.server.person("phone", value)
                self.assertIsNotNone(p, value)
                self.assertIn(("user_id", user),
                              {(i["ns"], i["value"]) for i in p["identities"]})

    def test_person_document_shape(self):
        user = new_id("u-shape")
        self.server.batch([
            identify(user_id=user, traits={"name": "Zhao Lei", "vip": True}, timestamp=ts(0)),
            track("Order Completed", user_id=user, properties={"revenue": 20}, timestamp=ts(5)),
            track("Order Completed", user_id=user, properties={"revenue": 5.25}, timestamp=ts(9)),
            track("Product Viewed", user_id=user, timestamp=ts(7)),
        ])
        p = self.server.person("user_id", user)
        for key in ("person_id", "identities", "traits", "event_count", "first_seen",
                    "last_seen", "event_counts", "counts_by_type", "revenue",
                    "revenue_by_event", "location"):
            self.assertIn(key, p)
        self.assertIsInstance(p["person_id"], int)
        self.assertEqual(p["event_count"], 4)
        nonzero = lambda d: {k: v for k, v in d.items() if v}
        self.assertEqual(nonzero(p["event_counts"]), {"Order Completed": 2, "Product Viewed": 1})
        self.assertEqual(nonzero(p["counts_by_type"]), {"identify": 1, "track": 3})
        self.assertAlmostEqual(p["revenue"], 25.25)
        self.assertAlmostEqual(p["revenue_by_event"]["Order Completed"], 25.25)
        self.assertEqual(p["traits"], {"name": "Zhao Lei", "vip": True})
        self.assertEqual(parse_ts(p["first_seen"]), parse_ts(ts(0)))
        self.assertEqual(parse_ts(p["last_seen"]), parse_ts(ts(9)))
        self.assertTrue(p["first_seen"].endswith("Z") or p["first_seen"].endswith("+00:00"))

    # ---- events pagination -------------------------------------------------------

    def test_events_pagination_newest_first(self):
        user = new_id("u-page")
        events = [track("Paged", user_id=user, properties={"i": i}, timestamp=ts(i))
                  for i in range(150)]
        self.server.batch(events[:75])
        self.server.batch(events[75:])
        sizes, seen, cursor = [], [], None
        for _ in range(10):
            path = f"/v1/persons/user_id/{quote(user)}/events?limit=60"
            if cursor:
                path += "&cursor=" + quote(cursor)
            r = self.server.get(path)
            self.assertEqual(r.status, 200, r)
            page = r.json()
            sizes.append(len(page["events"]))
            seen.extend(page["events"])
            cursor = page["next"]
            if cursor is None:
                break
        self.assertEqual(sizes, [60, 60, 30])
        ids = [e["message_id"] for e in seen]
        self.assertEqual(len(ids), len(set(ids)), "an event was listed twice")
        self.assertEqual(ids, [e["messageId"] for e in reversed(events)], "newest first")
        times = [parse_ts(e["timestamp"]) for e in seen]
        self.assertEqual(times, sorted(times, reverse=True))
        for e in seen:
            for key in ("message_id", "type", "event", "timestamp", "properties", "context",
                        "person_id"):
                self.assertIn(key, e)

    def test_events_listing_with_bad_parameters_is_not_a_server_error(self):
        user = new_id("u-cursor")
        self.server.batch([track("Cursor", user_id=user)])
        for cursor in ("garbage", "-1", "%FF%FE", "9" * 40):
            r = self.server.get(f"/v1/persons/user_id/{quote(user)}/events?cursor={cursor}")
            self.assertIn(r.status, (200, 400), r)
        for limit in ("abc", "-5", "0", "99999999999999999999"):
            r = self.server.get(f"/v1/persons/user_id/{quote(user)}/events?limit={limit}")
            self.assertIn(r.status, (200, 400), r)

    # ---- connections -------------------------------------------------------------

    def test_keep_alive_serves_many_requests_on_one_connection(self):
        conn = self.server.connection()
        user = new_id("u-keepalive")
        local = None
        for i in range(300):
            kind = i % 3
            if kind == 0:
                r = self.server.get("/healthz", auth=None, conn=conn)
            elif kind == 1:
                r = self.server.ingest("/v1/track", track("Keep Alive", user_id=user), conn=conn)
            else:
                r = self.server.get("/v1/stats", conn=conn)
            self.assertEqual(r.status, 200, r)
            self.assertNotEqual(r.headers.get("connection", "").lower(), "close", r)
            self.assertIsNotNone(conn.sock, f"server closed the connection at request {i}")
            name = conn.sock.getsockname()
            local = local or name
            self.assertEqual(name, local, f"connection was reopened at request {i}")
        # Error replies keep the connection too.
        for path in ("/v1/events/" + new_id("none"), "/v1/nothing-here"):
            r = self.server.get(path, conn=conn)
            self.assertEqual(r.status, 404, r)
        r = self.server.ingest("/v1/track", b"{bad json", conn=conn)
        self.assertEqual(r.status, 400, r)
        self.assertIsNotNone(conn.sock, "connection closed after an error reply")
        r = self.server.get("/healthz", auth=None, conn=conn)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(conn.sock.getsockname(), local, "connection closed after an error")
        conn.close()
        self.assertEqual(self.server.person("user_id", user)["event_count"], 100)

    def test_http_1_0_and_connection_close(self):
        r = self.server.get("/healthz", auth=None, headers={"Connection": "close"})
        self.assertEqual(r.status, 200, r)
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as s:
            s.sendall(b"GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        self.assertTrue(data.startswith(b"HTTP/1."), data[:100])
        self.assertIn(b" 200 ", data.split(b"\r\n", 1)[0])
        self.assertIn(b'"ok"', data)

    def test_sigterm_exits_cleanly_and_restart_keeps_data(self):
        user = new_id("u-term")
        self.server.batch([track("Term", user_id=user)])
        before = self.server.stats()
        code = self.server.stop()
        self.assertEqual(code, 0, "exit code after SIGTERM\n" + self.server.log_tail())
        self.server.start()
        after = self.server.stats()
        for key in ("events", "persons", "identities", "merges"):
            self.assertEqual(after[key], before[key], key)


    # ---- raw HTTP ---------------------------------------------------------------

    def raw(self, data, read_until_close=True, timeout=10):
        """Sends raw bytes on a new connection and returns what came back
        until the server closed it (or `timeout`)."""
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=timeout) as s:
            s.sendall(data)
            if not read_until_close:
                return b""
            out = b""
            try:
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    out += chunk
            except socket.timeout:
                pass
            return out

    def test_chunked_request_body(self):
        user = new_id("u-chunked")
        body = json.dumps({"batch": [track("Chunked", user_id=user)]}).encode()
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 10]), body[i:i + 10])
                          for i in range(0, len(body), 10)) + b"0\r\n\r\n"
        head = (b"POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n"
                b"Authorization: " + basic_auth(self.server.write_key).encode() +
                b"\r\nConnection: close\r\n\r\n")
        reply = self.raw(head + chunks)
        self.assertIn(b" 200 ", reply.split(b"\r\n", 1)[0], reply[:300])
        self.assertEqual(self.server.person("user_id", user)["event_count"], 1)

    def test_expect_100_continue(self):
        user = new_id("u-expect")
        body = json.dumps({"batch": [track("Expect", user_id=user)]}).encode()
        head = (b"POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\n"
                b"Content-Type: application/json\r\nContent-Length: %d\r\n"
                b"Authorization: %s\r\nConnection: close\r\n\r\n"
                % (len(body), basic_auth(self.server.write_key).encode()))
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as s:
            s.sendall(head)
            s.settimeout(2)
            try:
                interim = s.recv(65536)  # curl waits up to 1 s for this, then sends anyway
            except socket.timeout:
                interim = b""
            s.settimeout(10)
            s.sendall(body)
            out = interim
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        self.assertIn(b"HTTP/1.1 200 ", out, out[:300])
        self.assertEqual(self.server.person("user_id", user)["event_count"], 1)

    def test_pipelined_requests_answer_in_order(self):
        req = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        last = (b"GET /v1/events/none HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
                + self.server.admin_key.encode() + b"\r\nConnection: close\r\n\r\n")
        reply = self.raw(req * 5 + last)
        statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", reply)
        self.assertEqual(statuses, [b"200"] * 5 + [b"404"], reply[:500])

    def test_garbage_and_abandoned_requests_do_not_hurt(self):
        for junk in (b"HELLO\r\n\r\n", b"GET\r\n\r\n", b"\x16\x03\x01\x00\xa5\x01\x00",
                     b"GET / HTTP/9.9\r\n\r\n",
                     b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200000 + b"\r\n\r\n",
                     b"POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
                     b"POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"):
            with self.subTest(junk=junk[:40]):
                reply = self.raw(junk, timeout=5)
                if reply:
                    status = int(reply.split(b" ", 2)[1])
                    self.assertLess(status, 500, reply[:200])
        # Bodies announced but never sent, and connections dropped mid-body.
        for _ in range(20):
            self.raw(b"POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n"
                     b"Authorization: " + basic_auth(self.server.write_key).encode() +
                     b"\r\n\r\n{\"batch\": [", read_until_close=False)
        r = self.server.get("/healthz", auth=None)
        self.assertEqual(r.status, 200, r)

    def test_oversized_chunked_body_is_413(self):
        piece = b"x" * 65536
        body = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for _ in range(10)) + b"0\r\n\r\n"
        head = (b"POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
                b"Authorization: " + basic_auth(self.server.write_key).encode() +
                b"\r\nConnection: close\r\n\r\n")
        reply = self.raw(head + body)
        self.assertIn(b" 413 ", reply.split(b"\r\n", 1)[0], reply[:300])

    def test_malformed_authorization_headers_are_401(self):
        for value in ("Basic !!!not-base64", "Basic ", "Basic " + "QUFB" * 500, "Bearer",
                      "Bearer ", "Digest abc", "\u00e9"):
            with self.subTest(value=value[:30]):
                r = self.server.get("/v1/stats", auth=value)
                self.assertEqual(r.status, 401, r)
                r = self.server.ingest("/v1/track", track("Auth", user_id="u-auth"), auth=value)
                self.assertIn(r.status, (200, 401), r)

    def test_many_concurrent_connections(self):
        user = new_id("u-concurrent")
        results = []

        def run():
            conn = self.server.connection()
            try:
                for _ in range(10):
                    r = self.server.ingest("/v1/track", track("Concurrent", user_id=user),
                                           conn=conn)
                    results.append(r.status)
            finally:
                conn.close()

        threads = [threading.Thread(target=run) for _ in range(32)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        self.assertEqual(results, [200] * 320)
        self.assertEqual(self.server.person("user_id", user)["event_count"], 320)


if __name__ == "__main__":
    main()
