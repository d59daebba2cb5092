"""Tags (标签体系) and segments (人群包) end to end on a real server: definitions
and their errors, manual members, previews checked against counts worked out
by hand, exports (CSV with hashed PII, NDJSON, raw PII for allowed keys),
overlaps, a person's memberships, the enter/leave stream, a restart, and
`facet tags load` of examples/tags/retail-pack.yaml over `facet demo` data.

Every test defines its own tags and segments (prefix "it_"); the shared
persons carry trait cohort = "base" so that counts do not depend on persons
other tests add."""

import csv
import datetime
import hashlib
import hmac
import io
import json
import os
import re
import subprocess
import time
import uuid

from facet_server import (ADMIN_KEY, REPO, WRITE_KEY, FacetServer, ServerTestCase, facet_bin, identify,
                          main, parse_ts, quote, track)

PII_KEY = "ak_integration_pii"
PACK = os.path.join(REPO, "examples", "tags", "retail-pack.yaml")
DAY = 86400
DEMO_PERSONS = 2000
CLI_DEADLINE_S = 300


def iso(t):
    """ISO-8601 UTC text of epoch seconds `t`."""
    d = datetime.datetime.fromtimestamp(t, tz=datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"


def order(user, revenue, at):
    return track("Order Completed", user_id=user, properties={"revenue": revenue}, timestamp=iso(at))


def base_identify(user, traits, at):
    return identify(user_id=user, traits=dict(traits, cohort="base"), timestamp=iso(at))


def tag_names(tree):
    """Every tag of a GET /v1/tags tree, flattened: {name: node}."""
    out = {}
    for node in tree:
        out[node["name"]] = node
        out.update(tag_names(node["children"]))
    return out


def run_cli(*args, timeout=CLI_DEADLINE_S):
    return subprocess.run([facet_bin(), *args], capture_output=True, text=True, timeout=timeout)


BASE = 'trait.cohort = "base"'


class SegmentsTest(ServerTestCase):
    """The REST contract of tags and segments, over five persons:

    seg-u1  佛山, 28, female, email    orders 120 (-2d), 480 (-15d), 1500 (-100d)
    seg-u2  广州, 41, male             order 60 (-40d)
    seg-u3  佛山, 35, a note with a comma and quotes
    seg-u4  深圳, 22, female, phone    orders 200 (-5d), 250 (-6d)
    seg-u5  no traits but the cohort   one Product Viewed (-1d)
    """

    @classmethod
    def setUpClass(cls):
        cls.server = FacetServer(name="segments", admin_keys=(ADMIN_KEY, PII_KEY),
                                 extra_args=["--pii-key", PII_KEY]).start()
        now = cls.now = time.time()
        events = [
            base_identify("seg-u1", {"city": "佛山", "age": 28, "gender": "female",
                                     "email": "Wang.Fang@Example.com"}, now - 120 * DAY),
            base_identify("seg-u2", {"city": "广州", "age": 41, "gender": "male"}, now - 120 * DAY),
            base_identify("seg-u3", {"city": "佛山", "age": 35, "note": 'likes "round", frames'},
                          now - 120 * DAY),
            base_identify("seg-u4", {"city": "深圳", "age": 22, "gender": "female",
                                     "phone": "138 0013 8000"}, now - 120 * DAY),
            base_identify("seg-u5", {}, now - 120 * DAY),
            order("seg-u1", 120, now - 2 * DAY), order("seg-u1", 480, now - 15 * DAY),
            order("seg-u1", 1500, now - 100 * DAY), order("seg-u2", 60, now - 40 * DAY),
            order("seg-u4", 200, now - 5 * DAY), order("seg-u4", 250, now - 6 * DAY),
            track("Product Viewed", user_id="seg-u5", properties={"category": "镜片"},
                  timestamp=iso(now - DAY)),
        ]
        reply = cls.server.batch(events)
        assert reply["accepted"] == len(events), reply
        cls.ids = {u: cls.server.person("user_id", u)["person_id"]
                   for u in ("seg-u1", "seg-u2", "seg-u3", "seg-u4", "seg-u5")}

    # ---- helpers -----------------------------------------------------------------

    def put(self, path, body, expected=200):
        r = self.server.request("PUT", path, body=body)
        self.assertEqual(r.status, expected, r)
        return r.json()

    def delete(self, path, body=None, expected=200, **kw):
        r = self.server.request("DELETE", path, body=body, **kw)
        self.assertEqual(r.status, expected, r)
        return r.json()

    def post(self, path, body, expected=200, **kw):
        r = self.server.post(path, body, **kw)
        self.assertEqual(r.status, expected, r)
        return r.json()

    def get(self, path, expected=200, **kw):
        r = self.server.get(path, **kw)
        self.assertEqual(r.status, expected, r)
        return r

    def preview(self, expression, **fields):
        return self.post("/v1/segments/preview", dict(fields, expression=expression))

    def person_ids(self, *users):
        return sorted(self.ids[u] for u in users)

    def hmac_hex(self, ns, value):
        with open(os.path.join(self.server.data_dir, "hmac.key"), "rb") as f:
            key = f.read().rstrip(b"\r\n")
        return hmac.new(key, ns.encode() + b"\x00" + value.encode(), hashlib.sha256).hexdigest()

    def assert_error(self, r, status, field):
        self.assertEqual(r.status, status, r)
        body = r.json()
        self.assertIsInstance(body["error"], str, r)
        self.assertTrue(body["error"], r)
        self.assertEqual(body.get("field"), field, r)
        return body

    # ---- tags ----------------------------------------------------------------------

    def test_tag_tree_and_definition_errors(self):
        region = self.put("/v1/tags/it_region", {"display_name": "地域", "owner": "ops",
                                                 "description": "有城市",
                                                 "rule": f"trait.city IS NOT NULL AND {BASE}"})
        self.assertEqual(region["count"], 4)
        self.assertEqual(region["kind"], "rule")
        self.assertIsNone(region["parent"])
        self.assertEqual(region["display_name"], "地域")
        self.assertAlmostEqual(parse_ts(region["created_at"]), time.time(), delta=60)
        self.assertEqual(region["created_at"], region["updated_at"])
        foshan = self.put("/v1/tags/" + quote("it_佛山"),
                          {"display_name": "佛山", "parent": "it_region",
                           "rule": f'trait.city = "佛山" AND {BASE}'})
        self.assertEqual(foshan["count"], 2)
        self.assertEqual(foshan["name"], "it_佛山")
        self.assertEqual(set(foshan), {"name", "display_name", "parent", "description", "owner", "kind",
                                       "rule", "count", "created_at", "updated_at"})

        tree = self.get("/v1/tags").json()["tags"]
        node = next(t for t in tree if t["name"] == "it_region")
        self.assertEqual([c["name"] for c in node["children"]], ["it_佛山"])
        self.assertEqual(node["children"][0]["children"], [])
        self.assertEqual(self.get("/v1/tags/" + quote("it_佛山")).json()["parent"], "it_region")

        # Replacing keeps created_at and moves updated_at.
        time.sleep(0.01)
        again = self.put("/v1/tags/it_region", {"display_name": "地域 2", "rule": f"trait.city IS NOT NULL AND {BASE}"})
        self.assertEqual(again["created_at"], region["created_at"])
        self.assertEqual(again["display_name"], "地域 2")

        # A parse error names the field, the line and the column.
        r = self.server.request("PUT", "/v1/tags/it_bad", body={"rule": '(tag("it_region") OR\n  tag("b")'})
        body = self.assert_error(r, 400, "rule")
        self.assertEqual((body["line"], body["column"]), (2, 11), body)
        self.assertIn("line 2, column 11", body["error"])
        self.assert_error(self.server.request("PUT", "/v1/tags/it_bad", body={"rule": "trait.a = 1", "colour": 1}),
                          400, "colour")
        self.assert_error(self.server.request("PUT", "/v1/tags/it_bad", body={"rule": "trait.a = 1", "display_name": 5}),
                          400, "display_name")
        self.assert_error(self.server.request("PUT", "/v1/tags/it_bad", body="{not json"), 400, None)
        self.assert_error(self.server.request("PUT", "/v1/tags/it_bad", body={"display_name": "no rule"}),
                          400, "rule")
        self.assert_error(self.server.request("PUT", "/v1/tags/it_bad", body={"kind": "fuzzy"}), 400, "kind")
        self.assert_error(self.server.request("PUT", "/v1/tags/it_bad",
                                              body={"rule": "trait.a = 1", "parent": "it_nope"}), 404, "parent")
        self.assert_error(self.server.request("PUT", "/v1/tags/it_bad", body={"rule": 'tag("it_nope")'}),
                          404, "rule")
        self.assertEqual(self.server.get("/v1/tags/it_bad").status, 404)

        # Rules that would refer to each other.
        self.put("/v1/tags/it_cyc_a", {"rule": "trait.age > 30"})
        self.put("/v1/tags/it_cyc_b", {"rule": 'tag("it_cyc_a") AND trait.age < 40'})
        self.assert_error(self.server.request("PUT", "/v1/tags/it_cyc_a", body={"rule": 'tag("it_cyc_b")'}),
                          409, "rule")
        # A tag with children or one another refers to cannot go.
        self.assertEqual(self.server.request("DELETE", "/v1/tags/it_region").status, 409)
        self.assertEqual(self.server.request("DELETE", "/v1/tags/it_cyc_a").status, 409)
        self.assertEqual(self.delete("/v1/tags/" + quote("it_佛山")), {"deleted": "it_佛山"})
        self.assertEqual(self.server.get("/v1/tags/" + quote("it_佛山")).status, 404)
        self.assertEqual(self.server.request("DELETE", "/v1/tags/" + quote("it_佛山")).status, 404)
        self.delete("/v1/tags/it_region")

    def test_tags_need_an_admin_key(self):
        self.assertEqual(self.server.get("/v1/tags", auth=None).status, 401)
        self.assertEqual(self.server.get("/v1/tags", auth="write").status, 403)
        r = self.server.request("PUT", "/v1/tags/it_x", body={"rule": "trait.a = 1"}, auth="write")
        self.assertEqual(r.status, 403, r)
        self.assertEqual(self.server.post("/v1/segments/preview", {"expression": "trait.a = 1"},
                                          auth=None).status, 401)
        r = self.server.request("PATCH", "/v1/tags/it_x")
        self.assertEqual(r.status, 405, r)
        self.assertEqual(r.headers.get("allow"), "GET, PUT, DELETE")

    def test_manual_members(self):
        tag = self.put("/v1/tags/it_vip", {"manual": True, "display_name": "店员标记 VIP"})
        self.assertEqual(tag["kind"], "manual")
        self.assertNotIn("rule", tag)
        self.assertEqual(tag["count"], 0)

        r = self.post("/v1/tags/it_vip/members", {"ns": "user_id", "values": ["seg-u1", " seg-u2 ", "nobody"]})
        self.assertEqual(r, {"added": 2, "matched": 2, "not_found": ["nobody"]})
        r = self.post("/v1/tags/it_vip/members", {"ns": "email", "values": ["WANG.FANG@example.com"]})
        self.assertEqual(r, {"added": 0, "matched": 1, "not_found": []})
        r = self.post("/v1/tags/it_vip/members", {"ns": "phone", "values": ["+86 138-0013-8000"]})
        self.assertEqual(r, {"added": 1, "matched": 1, "not_found": []})
        self.assertEqual(self.get("/v1/tags/it_vip").json()["count"], 3)

        r = self.server.post("/v1/tags/it_vip/members", {"ns": "email", "values": ["ok@example.cn", "not-an-email"]})
        self.assert_error(r, 400, "values[1]")
        self.assert_error(self.server.post("/v1/tags/it_vip/members", {"ns": "user_id", "values": [{}]}),
                          400, "values[0]")
        self.assert_error(self.server.post("/v1/tags/it_vip/members", {"values": ["a"]}), 400, "ns")
        self.assertEqual(self.server.post("/v1/tags/it_nope/members",
                                          {"ns": "user_id", "values": ["seg-u1"]}).status, 404)

        # text/csv: one identifier a line, the header is the namespace.
        r = self.delete("/v1/tags/it_vip/members?ns=user_id", body="user_id\r\nseg-u2\r\n\r\nnobody2\r\n",
                        content_type="text/csv")
        self.assertEqual(r, {"removed": 1, "matched": 1, "not_found": ["nobody2"]})
        r = self.server.post("/v1/tags/it_vip/members?ns=email", "email\nok@example.cn\nbad\n",
                             content_type="text/csv")
        body = self.assert_error(r, 400, "line 3")
        self.assertEqual(body["line"], 3)
        self.assert_error(self.server.post("/v1/tags/it_vip/members", "seg-u1\n", content_type="text/csv"),
                          400, "ns")

        export = self.get("/v1/tags/it_vip/members").text()
        rows = list(csv.reader(io.StringIO(export)))
        self.assertEqual(rows[0], ["person_id", "user_id"])
        self.assertEqual(sorted(rows[1:]), sorted([[str(self.ids["seg-u1"]), "seg-u1"],
                                                   [str(self.ids["seg-u4"]), "seg-u4"]]))

        # Rule tags take no manual members.
        self.put("/v1/tags/it_rule_only", {"rule": BASE})
        self.assertEqual(self.server.post("/v1/tags/it_rule_only/members",
                                          {"ns": "user_id", "values": ["seg-u1"]}).status, 400)

    # ---- previews ---------------------------------------------------------------------

    def test_preview_counts_match_the_data(self):
        cases = [
            (BASE, 5),
            (f'{BASE} AND count("Order Completed") >= 1', 3),
            (f'{BASE} AND count("Order Completed", 30d) >= 1', 2),
            (f'{BASE} AND count("Order Completed", 30d) >= 2', 2),
            (f'{BASE} AND sum("Order Completed", properties.revenue) > 1000', 1),
            (f'{BASE} AND sum("Order Completed", properties.revenue, 30d) BETWEEN 500 AND 700', 1),
            (f'{BASE} AND days_since_last("Order Completed") > 30', 1),
            (f'{BASE} AND count("Order Completed") = 0', 2),
            (f'{BASE} AND trait.age < 30', 2),
            (f'{BASE} AND trait.city IN ("佛山", "深圳") AND NOT trait.gender = "female"', 1),
            (f'{BASE} AND count("Product Viewed" WHERE properties.category = "镜片") >= 1', 1),
        ]
        for expression, want in cases:
            with self.subTest(expression=expression):
                r = self.preview(expression)
                self.assertEqual(r["count"], want, r)
                self.assertEqual(len(r["sample"]), min(want, 10))
        r = self.preview(f'{BASE} AND count("Order Completed") >= 1')
        self.assertEqual(sorted(s["person_id"] for s in r["sample"]), self.person_ids("seg-u1", "seg-u2", "seg-u4"))
        u1 = next(s for s in r["sample"] if s["person_id"] == self.ids["seg-u1"])
        self.assertIn({"ns": "user_id", "value": "seg-u1"}, u1["identities"])
        # Personal data in samples is a keyed hash unless the key may read it.
        emails = [i["value"] for i in u1["identities"] if i["ns"] == "email"]
        self.assertEqual(len(emails), 1)
        self.assertRegex(emails[0], r"^[0-9a-f]{64}$")
        self.assertNotIn("wang.fang", json.dumps(r))
        raw = self.server.post("/v1/segments/preview",
                               {"expression": f'{BASE} AND count("Order Completed") >= 1'},
                               auth="Bearer " + PII_KEY).json()
        u1 = next(s for s in raw["sample"] if s["person_id"] == self.ids["seg-u1"])
        self.assertEqual(u1["identities"], self.server.person("user_id", "seg-u1")["identities"])
        self.assertIsInstance(r["took_ms"], (int, float))
        self.assertAlmostEqual(parse_ts(r["as_of"]), time.time(), delta=60)
        self.assertEqual(len(self.preview(BASE, sample=2)["sample"]), 2)
        self.assertEqual(self.preview(BASE, sample=0)["sample"], [])

    def test_preview_as_of_in_the_past(self):
        as_of = self.now - 20 * DAY
        # Thirty days up to twenty days ago: only seg-u2's order (-40d).
        r = self.preview(f'{BASE} AND count("Order Completed", 30d) >= 1', as_of=iso(as_of))
        self.assertEqual(r["count"], 1, r)
        self.assertEqual(r["sample"][0]["person_id"], self.ids["seg-u2"])
        self.assertAlmostEqual(parse_ts(r["as_of"]), as_of, delta=0.01)
        # Before any order.
        r = self.preview(f'{BASE} AND count("Order Completed") >= 1', as_of=iso(self.now - 200 * DAY))
        self.assertEqual(r["count"], 0, r)
        self.assert_error(self.server.post("/v1/segments/preview", {"expression": BASE, "as_of": "last week"}),
                          400, "as_of")

    def test_preview_breakdown(self):
        r = self.preview(BASE, breakdown="trait.city")
        self.assertEqual(r["breakdown"], {"佛山": 2, "广州": 1, "深圳": 1, "(none)": 1})
        r = self.preview(BASE, breakdown="trait.age")
        self.assertEqual(r["breakdown"], {"28": 1, "41": 1, "35": 1, "22": 1, "(none)": 1})
        r = self.preview(f'{BASE} AND count("Order Completed") >= 1', breakdown="trait.gender")
        self.assertEqual(r["breakdown"], {"female": 2, "male": 1})
        self.assertNotIn("breakdown", self.preview(BASE))
        self.assert_error(self.server.post("/v1/segments/preview", {"expression": BASE, "breakdown": "city"}),
                          400, "breakdown")

    def test_preview_errors(self):
        r = self.server.post("/v1/segments/preview", {"expression": 'count("Order Completed", 30d) >= 1 AND\n  trait.age > '})
        body = self.assert_error(r, 400, "expression")
        self.assertEqual(body["line"], 2, body)
        self.assertGreater(body["column"], 1, body)
        self.assert_error(self.server.post("/v1/segments/preview", {"expression": BASE, "sample": 5000}), 400, "sample")
        self.assert_error(self.server.post("/v1/segments/preview", {"expression": BASE, "sample": "5"}), 400, "sample")
        self.assert_error(self.server.post("/v1/segments/preview", {"expression": BASE, "limit": 5}), 400, "limit")
        self.assert_error(self.server.post("/v1/segments/preview", {}), 400, "expression")
        self.assertEqual(self.server.post("/v1/segments/preview", {"expression": 'tag("it_nope")'}).status, 404)
        self.assertEqual(self.server.post("/v1/segments/preview", [1, 2]).status, 400)

    # ---- segments, exports ----------------------------------------------------------------

    def test_segment_definitions(self):
        seg = self.put("/v1/segments/it_buyers", {"expression": f'{BASE} AND count("Order Completed") >= 1',
                                                  "description": "买过的人", "owner": "growth"})
        self.assertEqual(set(seg), {"name", "description", "owner", "expression", "count", "created_at",
                                    "updated_at"})
        self.assertEqual(seg["count"], 3)
        self.assertEqual(seg["description"], "买过的人")
        listed = self.get("/v1/segments").json()["segments"]
        self.assertIn("it_buyers", [s["name"] for s in listed])
        self.assertEqual(self.get("/v1/segments/it_buyers").json()["count"], 3)
        r = self.server.request("PUT", "/v1/segments/it_bad", body={"expression": "trait.age >"})
        body = self.assert_error(r, 400, "expression")
        self.assertEqual((body["line"], body["column"]), (1, 12), body)
        self.assert_error(self.server.request("PUT", "/v1/segments/it_bad", body={"description": "x"}),
                          400, "expression")
        # A segment named like an action is still reachable by GET / PUT / DELETE.
        self.put("/v1/segments/preview", {"expression": BASE})
        self.assertEqual(self.get("/v1/segments/preview").json()["count"], 5)
        self.delete("/v1/segments/preview")
        self.assertEqual(self.delete("/v1/segments/it_buyers"), {"deleted": "it_buyers"})
        self.assertEqual(self.server.get("/v1/segments/it_buyers").status, 404)
        self.assertEqual(self.server.request("DELETE", "/v1/segments/it_buyers").status, 404)

    def test_csv_export_hashes_pii(self):
        self.put("/v1/segments/it_export", {"expression": f'{BASE} AND trait.city IS NOT NULL'})
        r = self.get("/v1/segments/it_export/members?format=csv&ns=email&traits=city,age,note")
        self.assertTrue(r.headers["content-type"].startswith("text/csv"), r.headers)
        text = r.text()
        self.assertTrue(text.startswith("person_id,email,city,age,note\r\n"), text)
        self.assertIn('"likes ""round"", frames"', text)
        rows = list(csv.DictReader(io.StringIO(text)))
        self.assertEqual(len(rows), 4)
        by_id = {int(row["person_id"]): row for row in rows}
        self.assertEqual(sorted(by_id), self.person_ids("seg-u1", "seg-u2", "seg-u3", "seg-u4"))
        u1 = by_id[self.ids["seg-u1"]]
        self.assertEqual(u1["email"], self.hmac_hex("email", "wang.fang@example.com"))
        self.assertRegex(u1["email"], r"^[0-9a-f]{64}$")
        self.assertEqual((u1["city"], u1["age"]), ("佛山", "28"))
        self.assertEqual(by_id[self.ids["seg-u2"]]["email"], "")
        self.assertEqual(by_id[self.ids["seg-u3"]]["note"], 'likes "round", frames')
        self.assertNotIn("wang.fang", text.lower())

        # Phone numbers and PII traits are hashed too.
        text = self.get("/v1/segments/it_export/members?ns=phone&traits=phone").text()
        rows = {int(row["person_id"]): row for row in csv.DictReader(io.StringIO(text))}
        self.assertEqual(rows[self.ids["seg-u4"]]["phone"], self.hmac_hex("phone", "+8613800138000"))
        self.assertNotIn("13800138000", text)

        # Raw values only for keys listed in pii_keys.
        r = self.server.get("/v1/segments/it_export/members?ns=email&raw=true")
        self.assert_error(r, 403, "raw")
        r = self.get("/v1/segments/it_export/members?ns=email&raw=true",
                     auth="Bearer " + PII_KEY)
        self.assertIn(f"{self.ids['seg-u1']},wang.fang@example.com\r\n", r.text())
        # user_id is not PII: raw=true needs no special key.
        self.get("/v1/segments/it_export/members?raw=true")

        self.assertEqual(len(self.get("/v1/segments/it_export/members?limit=1").text().splitlines()), 2)
        for query in ("format=xml", "limit=0", "raw=maybe", "traits=,"):
            self.assertEqual(self.server.get(f"/v1/segments/it_export/members?{query}").status, 400, query)
        self.assertEqual(self.server.get("/v1/segments/it_nope/members").status, 404)

    def test_ndjson_export(self):
        self.put("/v1/segments/it_ndjson", {"expression": f'{BASE} AND trait.age > 30'})
        r = self.get("/v1/segments/it_ndjson/members?format=ndjson&traits=city,age")
        lines = [json.loads(line) for line in r.text().splitlines()]
        self.assertEqual(sorted(line["person_id"] for line in lines), self.person_ids("seg-u2", "seg-u3"))
        u2 = next(line for line in lines if line["person_id"] == self.ids["seg-u2"])
        self.assertEqual(u2, {"person_id": self.ids["seg-u2"], "user_id": "seg-u2", "city": "广州", "age": 41})
        # Tags export the same way.
        self.put("/v1/tags/it_nd_tag", {"rule": f'{BASE} AND trait.city = "深圳"'})
        lines = self.get("/v1/tags/it_nd_tag/members?format=ndjson&ns=email").text().splitlines()
        self.assertEqual([json.loads(line) for line in lines], [{"person_id": self.ids["seg-u4"], "email": None}])

    def test_overlap_matrix(self):
        self.put("/v1/segments/it_ov_buyers", {"expression": f'{BASE} AND count("Order Completed") >= 1'})
        self.put("/v1/tags/it_ov_foshan", {"rule": f'{BASE} AND trait.city = "佛山"'})
        self.put("/v1/segments/it_ov_young", {"expression": f"{BASE} AND trait.age < 30"})
        r = self.post("/v1/segments/overlap", {"segments": ["it_ov_buyers", "tag:it_ov_foshan", "it_ov_young"]})
        # buyers {u1, u2, u4}, 佛山 {u1, u3}, young {u1, u4}
        self.assertEqual(r["segments"], ["it_ov_buyers", "tag:it_ov_foshan", "it_ov_young"])
        self.assertEqual(r["sizes"], [3, 2, 2])
        self.assertEqual(r["matrix"], [[3, 1, 2], [1, 2, 1], [2, 1, 2]])
        self.assert_error(self.server.post("/v1/segments/overlap", {"segments": ["it_ov_buyers"]}), 400, "segments")
        self.assert_error(self.server.post("/v1/segments/overlap", {"segments": ["it_ov_buyers"] * 21}),
                          400, "segments")
        self.assert_error(self.server.post("/v1/segments/overlap", {"segments": ["it_ov_buyers", "it_nope"]}),
                          404, "segments[1]")
        self.assert_error(self.server.post("/v1/segments/overlap", {"segments": ["it_ov_buyers", 3]}),
                          400, "segments[1]")

    def test_person_memberships(self):
        self.put("/v1/tags/it_ps_foshan", {"rule": f'{BASE} AND trait.city = "佛山"'})
        self.put("/v1/segments/it_ps_buyers", {"expression": f'{BASE} AND count("Order Completed") >= 1'})
        r = self.get("/v1/persons/user_id/seg-u1/segments").json()
        self.assertEqual(r["person_id"], self.ids["seg-u1"])
        self.assertIn("it_ps_foshan", r["tags"])
        self.assertIn("it_ps_buyers", r["segments"])
        self.assertEqual(r["tags"], sorted(r["tags"]))
        r = self.get("/v1/persons/email/" + quote(" Wang.Fang@EXAMPLE.com") + "/segments").json()
        self.assertEqual(r["person_id"], self.ids["seg-u1"])
        r = self.get("/v1/persons/user_id/seg-u3/segments").json()
        self.assertIn("it_ps_foshan", r["tags"])
        self.assertNotIn("it_ps_buyers", r["segments"])
        self.assertEqual(self.server.get("/v1/persons/user_id/nobody/segments").status, 404)
        self.assert_error(self.server.get("/v1/persons/email/nope/segments"), 400, "value")

    # ---- changes -------------------------------------------------------------------------

    def test_changes_when_a_person_enters_and_leaves(self):
        user = f"seg-ch-{uuid.uuid4().hex[:8]}"
        self.server.batch([identify(user_id=user, traits={"cohort": user}, timestamp=iso(self.now - DAY))])
        pid = self.server.person("user_id", user)["person_id"]
        rule = f'trait.cohort = "{user}" AND count("Order Completed", 30d) >= 1'
        self.put("/v1/segments/it_ch_buyers", {"expression": rule})
        self.put("/v1/tags/it_ch_tag", {"rule": rule})
        self.put("/v1/tags/it_ch_manual", {"kind": "manual"})
        empty = self.get("/v1/segments/it_ch_buyers/changes").json()
        self.assertEqual(empty, {"changes": [], "next": ""})

        before = time.time()
        self.server.batch([order(user, 99, time.time() - 60)])
        for path in ("/v1/segments/it_ch_buyers/changes", "/v1/tags/it_ch_tag/changes"):
            changes = self.get(path).json()["changes"]
            self.assertEqual(len(changes), 1, path)
            c = changes[0]
            self.assertEqual((c["person_id"], c["change"]), (pid, "entered"), c)
            self.assertAlmostEqual(parse_ts(c["at"]), before, delta=60)
            self.assertIsInstance(c["seq"], int)
        self.assertEqual(self.get("/v1/segments/it_ch_buyers").json()["count"], 1)

        self.post("/v1/tags/it_ch_manual/members", {"ns": "user_id", "values": [user]})
        self.delete("/v1/tags/it_ch_manual/members", {"ns": "user_id", "values": [user]})
        changes = self.get("/v1/tags/it_ch_manual/changes").json()["changes"]
        self.assertEqual([(c["person_id"], c["change"]) for c in changes], [(pid, "entered"), (pid, "left")])
        self.assertLess(changes[0]["seq"], changes[1]["seq"])
        page = self.get("/v1/tags/it_ch_manual/changes?limit=1").json()
        self.assertEqual(page["changes"], changes[:1])
        self.assertEqual(page["next"], str(changes[0]["seq"]))
        page = self.get(f"/v1/tags/it_ch_manual/changes?limit=1&after={page['next']}").json()
        self.assertEqual(page["changes"], changes[1:])
        future = iso(time.time() + DAY)
        self.assertEqual(self.get(f"/v1/tags/it_ch_manual/changes?since={quote(future)}").json()["changes"], [])
        self.assertEqual(self.server.get("/v1/tags/it_ch_manual/changes?since=soon").status, 400)
        self.assertEqual(self.server.get("/v1/tags/it_ch_manual/changes?limit=5000").status, 400)
        self.assertEqual(self.server.get("/v1/segments/it_nope/changes").status, 404)

    # ---- metrics, restart -------------------------------------------------------------------

    def test_stats_and_metrics_count_definitions(self):
        self.put("/v1/tags/it_stats_tag", {"rule": BASE})
        stats = self.server.stats()
        self.assertGreaterEqual(stats["tags"], 1)
        self.assertIsInstance(stats["segments"], int)
        self.assertGreater(stats["audience_bitmap_bytes"], 0)
        text = self.get("/metrics").text()
        self.assertRegex(text, r"\nfacet_tags \d+\n")
        self.assertRegex(text, r"\nfacet_segments \d+\n")
        self.assertRegex(text, r"\nfacet_audience_bitmap_bytes \d+\n")
        self.assertIn('route="/v1/tags/{name}"', text)

    def test_restart_keeps_definitions_members_and_counts(self):
        self.put("/v1/tags/it_rs_tag", {"rule": f'{BASE} AND count("Order Completed", 30d) >= 1'})
        self.put("/v1/tags/it_rs_manual", {"kind": "manual"})
        self.post("/v1/tags/it_rs_manual/members", {"ns": "user_id", "values": ["seg-u3", "seg-u5"]})
        self.put("/v1/segments/it_rs_seg", {"expression": f'{BASE} AND NOT tag("it_rs_tag")'})
        paths = ["/v1/tags/it_rs_tag", "/v1/tags/it_rs_manual", "/v1/segments/it_rs_seg"]
        before = {p: self.get(p).json() for p in paths}
        self.assertEqual([before[p]["count"] for p in paths], [2, 2, 3])
        members = self.get("/v1/segments/it_rs_seg/members").text()
        changes = self.get("/v1/tags/it_rs_manual/changes").json()

        self.server.restart()

        after = {p: self.get(p).json() for p in paths}
        self.assertEqual(after, before)
        self.assertEqual(self.get("/v1/segments/it_rs_seg/members").text(), members)
        self.assertEqual(self.get("/v1/tags/it_rs_manual/changes").json(), changes)
        self.assertEqual(self.preview(f'{BASE} AND count("Order Completed") >= 1')["count"], 3)


class TagPackTest(ServerTestCase):
    """examples/tags/retail-pack.yaml over `facet demo` data."""

    @classmethod
    def setUpClass(cls):
        cls.server = FacetServer(name="tag-pack").start()
        started = time.monotonic()
        demo = run_cli("demo", "--url", cls.server.url, "--write-key", WRITE_KEY,
                       "--persons", str(DEMO_PERSONS), "--connections", "2")
        assert demo.returncode == 0, demo.stderr[-2000:]
        cls.demo_seconds = time.monotonic() - started

    def pack_names(self):
        """(rule tags, other tags) named in the pack file, in order."""
        rule, other = [], []
        with open(PACK, encoding="utf-8") as f:
            text = f.read()
        for entry in re.split(r"\n\s*- name: ", text)[1:]:
            name = entry.split("\n", 1)[0].strip()
            body = entry.split("\n- name:", 1)[0]
            kind = re.search(r"^\s*kind: (\w+)", body.split("children:", 1)[0], re.M)
            (other if kind and kind.group(1) != "rule" else rule).append(name)
        return rule, other

    def test_dry_run_needs_no_server(self):
        r = run_cli("tags", "load", PACK, "--dry-run", "--url", "http://127.0.0.1:1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("tags OK", r.stdout)

    def test_a_bad_pack_names_the_file_line_and_column(self):
        path = os.path.join(self.server.root, "bad-pack.yaml")
        with open(path, "w", encoding="utf-8") as f:
            f.write("tags:\n  - name: ok\n    rule: trait.a = 1\n  - name: broken\n    rule: trait.age >> 3\n")
        r = run_cli("tags", "load", path, "--dry-run")
        self.assertEqual(r.returncode, 2, r)
        self.assertRegex(r.stderr, re.escape(path) + r":5:11: rule of tag \"broken\", line 1, column \d+")
        # The server rejects what the file cannot know: an unknown parent tag.
        with open(path, "w", encoding="utf-8") as f:
            f.write("tags:\n  - name: it_pack_ok\n    rule: count(\"*\") >= 1\n"
                    "  - name: it_pack_bad\n    rule: tag(\"no_such_tag\")\n")
        r = run_cli("tags", "load", path, "--url", self.server.url, "--key", ADMIN_KEY)
        self.assertEqual(r.returncode, 3, r)
        self.assertIn("loaded 1 tags, 1 failed", r.stdout)
        self.assertRegex(r.stderr, re.escape(path) + r":5:11: tag it_pack_bad: HTTP 404 \(rule\): .*no_such_tag")
        r = run_cli("tags", "load", path, "--url", self.server.url, "--key", "wrong")
        self.assertEqual(r.returncode, 1, r)

    def test_the_retail_pack_loads_and_selects_demo_persons(self):
        rule_tags, other_tags = self.pack_names()
        self.assertGreaterEqual(len(rule_tags), 55)
        r = run_cli("tags", "load", PACK, "--url", self.server.url, "--key", ADMIN_KEY)
        self.assertEqual(r.returncode, 0, r.stderr)
        total = len(rule_tags) + len(other_tags)
        self.assertIn(f"loaded {total} tags, 0 failed", r.stdout)

        tree = self.get_tags()
        pack_roots = [root for root in tree if root["name"] in rule_tags + other_tags]
        self.assertEqual(len(pack_roots), 7)
        self.assertTrue(all(len(root["children"]) > 0 for root in pack_roots))
        tags = tag_names(tree)
        for name in rule_tags:
            self.assertIn(name, tags)
            self.assertEqual(tags[name]["kind"], "rule", name)
        persons = self.server.stats()["persons"]
        empty = [n for n in rule_tags if tags[n]["count"] == 0]
        everyone = [n for n in rule_tags if tags[n]["count"] == persons]
        self.assertLessEqual(len(empty), len(rule_tags) // 10, f"rule tags without members: {empty}")
        self.assertEqual(everyone, [], "rule tags that select everybody")
        # Loading again replaces the same tags.
        r = run_cli("tags", "load", PACK, "--url", self.server.url, "--key", ADMIN_KEY)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(tag_names(self.get_tags())), len(tags))
        listing = run_cli("tags", "list", "--url", self.server.url, "--key", ADMIN_KEY)
        self.assertEqual(listing.returncode, 0, listing.stderr)
        self.assertIn("rfm_high_value  高价值客户  [rule]", listing.stdout)

    def test_samples_spread_over_the_audience_and_breakdowns_count_every_member(self):
        expression = 'count("Order Completed", 3650d) >= 1'
        r = self.server.request("PUT", "/v1/segments/it_buyers", body={"expression": expression})
        self.assertEqual(r.status, 200, r)
        export = self.server.get("/v1/segments/it_buyers/members?format=csv&traits=city")
        self.assertEqual(export.status, 200, export)
        rows = list(csv.reader(io.StringIO(export.body.decode("utf-8"))))[1:]
        members = [int(row[0]) for row in rows]
        self.assertGreater(len(members), 100)

        def preview(**fields):
            r = self.server.post("/v1/segments/preview", dict(fields, expression=expression))
            self.assertEqual(r.status, 200, r)
            return r.json()

        first = preview(sample=10, breakdown="trait.city")
        ids = [s["person_id"] for s in first["sample"]]
        self.assertEqual(first["count"], len(members))
        self.assertEqual(len(set(ids)), 10)
        self.assertTrue(set(ids) <= set(members))
        self.assertEqual(ids, sorted(ids))
        # One from each tenth of the audience, not its ten oldest members.
        for i, pid in enumerate(ids):
            rank = members.index(pid)
            self.assertTrue(len(members) * i // 10 <= rank < len(members) * (i + 1) // 10, (i, rank))
        self.assertEqual(preview(sample=10)["sample"], first["sample"])  # reproducible
        # The breakdown (string values from the trait's value bitmaps) agrees
        # with the exported values, person by person.
        cities = {}
        for row in rows:  # person_id, user_id, city
            cities[row[2] or "(none)"] = cities.get(row[2] or "(none)", 0) + 1
        self.assertEqual(first["breakdown"], cities)

    def get_tags(self):
        r = self.server.get("/v1/tags")
        self.assertEqual(r.status, 200, r)
        return r.json()["tags"]


if __name__ == "__main__":
    main()
