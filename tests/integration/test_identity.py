"""Identity resolution end to end: anonymous to identified, alias, merges
through shared identifiers, refused merges, undo, aggregates and traits, as
seen through the read API of a real server."""

import random
import threading
import time
import unittest
import uuid

from facet_server import (FacetServer, ServerTestCase, identify, main, make_event,
                          parse_ts, quote, track, ts)


def uniq(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def identities(person, ns=None):
    return {(i["ns"], i["value"]) for i in person["identities"] if ns is None or i["ns"] == ns}


def namespaces(person):
    return [i["ns"] for i in person["identities"]]


def sent_ids(events):
    """messageIds of events as sent."""
    return [e["messageId"] for e in events]


def stored_ids(events):
    """message_ids of events as the API lists them."""
    return [e["message_id"] for e in events]


class IdentityTest(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = FacetServer(name="identity").start()

    def send(self, *events):
        reply = self.server.batch(list(events))
        self.assertEqual(reply["accepted"], len(events), reply)
        self.assertEqual(reply.get("quarantined", []), [], reply)
        return reply

    def person(self, ns, value):
        p = self.server.person(ns, value)
        self.assertIsNotNone(p, f"GET /v1/persons/{ns}/{value} -> 404")
        return p

    # ---- anonymous -> identified -------------------------------------------

    def test_anonymous_events_join_the_identified_person(self):
        anon, user = uniq("anon"), uniq("user")
        pre = [track("Product Viewed", anonymous_id=anon, properties={"sku": f"sku-{i}"},
                     timestamp=ts(i)) for i in range(3)]
        pre.append(make_event("page", anonymous_id=anon, name="Home", properties={},
                              timestamp=ts(4)))
        self.send(*pre)
        anon_person = self.person("anonymous_id", anon)
        self.assertEqual(anon_person["event_count"], 4)
        self.assertIsNone(self.server.person("user_id", user))

        link = identify(user_id=user, anonymous_id=anon, traits={"name": "Wang Fang"},
                        timestamp=ts(10))
        self.send(link)

        p = self.person("user_id", user)
        self.assertEqual(p["person_id"], self.person("anonymous_id", anon)["person_id"])
        self.assertIn(("user_id", user), identities(p))
        self.assertIn(("anonymous_id", anon), identities(p))
        self.assertEqual(p["event_count"], 5)
        self.assertEqual(p["event_counts"].get("Product Viewed"), 3, p)
        self.assertEqual(p["counts_by_type"].get("track"), 3, p)
        self.assertEqual(p["counts_by_type"].get("page"), 1, p)
        self.assertEqual(p["counts_by_type"].get("identify"), 1, p)
        self.assertEqual(p["traits"].get("name"), "Wang Fang")
        self.assertEqual(parse_ts(p["first_seen"]), parse_ts(ts(0)))
        self.assertEqual(parse_ts(p["last_seen"]), parse_ts(ts(10)))

        events = self.server.person_events("user_id", user)
        want = sent_ids(pre) + [link["messageId"]]
        self.assertCountEqual(stored_ids(events), want)
        self.assertTrue(all(e["person_id"] == p["person_id"] for e in events), events)
        for e in pre + [link]:
            stored = self.server.event(e["messageId"])
            self.assertIsNotNone(stored, e["messageId"])
            self.assertEqual(stored["person_id"], p["person_id"])

    def test_later_anonymous_events_go_to_the_identified_person(self):
        anon, user = uniq("anon"), uniq("user")
        self.send(identify(user_id=user, anonymous_id=anon, timestamp=ts(0)))
        self.send(track("Cart Viewed", anonymous_id=anon, timestamp=ts(1)))
        p = self.person("user_id", user)
        self.assertEqual(p["event_count"], 2)
        self.assertEqual(p["event_counts"].get("Cart Viewed"), 1)

    # ---- alias -------------------------------------------------------------

    def test_alias_links_previous_id_to_user(self):
        anon, user = uniq("anon"), uniq("user")
        self.send(track("Signed Up", anonymous_id=anon, timestamp=ts(0)),
                  track("Plan Chosen", anonymous_id=anon, timestamp=ts(1)))
        alias = make_event("alias", user_id=user, previousId=anon, timestamp=ts(2))
        self.send(alias)
        p = self.person("user_id", user)
        self.assertEqual(p["person_id"], self.person("anonymous_id", anon)["person_id"])
        self.assertEqual(p["event_count"], 3)
        self.assertEqual(p["counts_by_type"].get("alias"), 1, p)
        self.assertIn(("anonymous_id", anon), identities(p))

    def test_alias_merges_two_existing_persons_into_the_users(self):
        anon, user = uniq("anon"), uniq("user")
        self.send(identify(user_id=user, traits={"plan": "pro"}, timestamp=ts(0)),
                  track("Order Completed", user_id=user, properties={"revenue": 10},
                        timestamp=ts(1)))
        self.send(track("Order Completed", anonymous_id=anon, properties={"revenue": 5},
                        timestamp=ts(2)))
        user_pid = self.person("user_id", user)["person_id"]
        anon_pid = self.person("anonymous_id", anon)["person_id"]
        self.assertNotEqual(user_pid, anon_pid)

        self.send(make_event("alias", user_id=user, previousId=anon, timestamp=ts(3)))
        p = self.person("user_id", user)
        self.assertEqual(p["person_id"], user_pid, "survivor is the person of the userId")
        self.assertEqual(self.person("anonymous_id", anon)["person_id"], user_pid)
        self.assertEqual(p["event_count"], 4)
        self.assertEqual(p["event_counts"].get("Order Completed"), 2)
        self.assertAlmostEqual(p["revenue"], 15)
        merged = [m for m in self.server.merges("user_id", user) if m["status"] == "merged"]
        self.assertEqual(len(merged), 1, merged)
        self.assertEqual(merged[0]["survivor"], user_pid)
        self.assertEqual(merged[0]["absorbed"], anon_pid)

    # ---- merges through shared identifiers --------------------------------

    def test_shared_email_merges_two_anonymous_persons(self):
        a1, a2 = uniq("anon"), uniq("anon")
        email = f"{uniq('shared')}@Example.com"
        self.send(identify(anonymous_id=a1, traits={"email": email, "city": "Hangzhou"},
                           timestamp=ts(0)),
                  track("Signed Up", anonymous_id=a1, timestamp=ts(1)))
        self.send(track("Product Viewed", anonymous_id=a2, timestamp=ts(2)))
        p1 = self.person("anonymous_id", a1)["person_id"]
        p2 = self.person("anonymous_id", a2)["person_id"]
        self.assertNotEqual(p1, p2)

        # a2 now shows the same email (in context.traits, as browsers send it).
        link = track("Product Viewed", anonymous_id=a2, timestamp=ts(3),
                     context={"traits": {"email": email.upper()}})
        self.send(link)

        p = self.person("email", email.lower())
        self.assertEqual(self.person("email", email)["person_id"], p["person_id"])
        self.assertEqual(self.person("anonymous_id", a1)["person_id"], p["person_id"])
        self.assertEqual(self.person("anonymous_id", a2)["person_id"], p["person_id"])
        # The survivor is the person of the first known identifier in order
        # user_id, anonymous_id, email: a2's person.
        self.assertEqual(p["person_id"], p2)
        ids = identities(p)
        self.assertIn(("anonymous_id", a1), ids)
        self.assertIn(("anonymous_id", a2), ids)
        self.assertEqual(namespaces(p).count("email"), 1, p["identities"])
        self.assertEqual(p["event_count"], 4)
        self.assertEqual(p["traits"].get("city"), "Hangzhou")

        merges = self.server.merges("email", email)
        merged = [m for m in merges if m["status"] == "merged"]
        self.assertEqual(len(merged), 1, merges)
        m = merged[0]
        self.assertEqual(m["survivor"], p2)
        self.assertEqual(m["absorbed"], p1)
        self.assertEqual(m["via"]["ns"], "email", m)
        for key in ("id", "at", "reason"):
            self.assertIn(key, m)
        self.assertEqual(self.server.merges("anonymous_id", a1), merges)

    def test_shared_phone_is_normalised_before_matching(self):
        a1, a2 = uniq("anon"), uniq("anon")
        digits = "139" + str(uuid.uuid4().int)[:8]
        self.send(identify(anonymous_id=a1, traits={"phone": digits}, timestamp=ts(0)))
        self.send(identify(anonymous_id=a2, traits={"phone": "+86 " + digits[:3] + " "
                                                    + digits[3:7] + " " + digits[7:]},
                           timestamp=ts(1)))
        p = self.person("phone", digits)
        self.assertEqual(self.person("phone", "+86" + digits)["person_id"], p["person_id"])
        self.assertEqual(self.person("anonymous_id", a1)["person_id"], p["person_id"])
        self.assertEqual(self.person("anonymous_id", a2)["person_id"], p["person_id"])
        self.assertEqual(namespaces(p).count("phone"), 1, p["identities"])

    def test_device_id_links_and_is_capped_at_ten_per_person(self):
        user = uniq("user")
        devices = [uniq("dev") for _ in range(12)]
        self.send(*[track("App Opened", user_id=user, timestamp=ts(i),
                          context={"device": {"id": d}}) for i, d in enumerate(devices)])
        p = self.person("user_id", user)
        self.assertEqual(p["event_count"], 12)
        self.assertEqual(namespaces(p).count("device_id"), 10, p["identities"])
        self.assertEqual(self.person("device_id", devices[0])["person_id"], p["person_id"])
        # An anonymous event from a linked device joins the person.
        self.send(track("App Opened", anonymous_id=uniq("anon"), timestamp=ts(20),
                        context={"device": {"id": devices[1]}}))
        self.assertEqual(self.person("user_id", user)["event_count"], 13)

    # ---- refused merges ----------------------------------------------------

    def test_link_between_two_user_ids_is_refused(self):
        u1, u2, anon = uniq("user"), uniq("user"), uniq("anon")
        self.send(identify(user_id=u1, anonymous_id=anon, traits={"plan": "basic"},
                           timestamp=ts(0)))
        self.send(identify(user_id=u2, traits={"plan": "gold"}, timestamp=ts(1)))
        p1 = self.person("user_id", u1)["person_id"]
        p2 = self.person("user_id", u2)["person_id"]
        self.assertNotEqual(p1, p2)

        conflict = track("Coupon Used", user_id=u2, anonymous_id=anon, timestamp=ts(2))
        self.send(conflict)

        q1, q2 = self.person("user_id", u1), self.person("user_id", u2)
        self.assertEqual(q1["person_id"], p1)
        self.assertEqual(q2["person_id"], p2)
        self.assertNotIn(("user_id", u2), identities(q1))
        self.assertNotIn(("user_id", u1), identities(q2))
        self.assertEqual(self.person("anonymous_id", anon)["person_id"], p1)
        self.assertEqual(q1["event_count"], 1)
        self.assertEqual(q2["event_count"], 2, "the event goes to the person of its userId")
        self.assertEqual(self.server.event(conflict["messageId"])["person_id"], p2)
        self.assertEqual(q1["traits"].get("plan"), "basic")
        self.assertEqual(q2["traits"].get("plan"), "gold")

        entries = {m["id"]: m for m in self.server.merges("user_id", u1)
                   + self.server.merges("user_id", u2)}
        refused = [m for m in entries.values() if m["status"] == "refused"]
        self.assertEqual(len(refused), 1, list(entries.values()))
        self.assertEqual([m for m in entries.values() if m["status"] == "merged"], [])
        self.assertEqual({refused[0]["survivor"], refused[0]["absorbed"]}, {p1, p2})
        undo = self.server.post(f"/v1/merges/{refused[0]['id']}/undo")
        self.assertEqual(undo.status, 409, undo)
        self.assertIn("error", undo.json())

    def test_shared_email_between_two_user_ids_is_refused(self):
        u1, u2 = uniq("user"), uniq("user")
        email = f"{uniq('family')}@example.com"
        self.send(identify(user_id=u1, traits={"email": email}, timestamp=ts(0)))
        self.send(identify(user_id=u2, timestamp=ts(1)))
        self.send(identify(user_id=u2, traits={"email": email}, timestamp=ts(2)))
        p1, p2 = self.person("user_id", u1), self.person("user_id", u2)
        self.assertNotEqual(p1["person_id"], p2["person_id"])
        self.assertEqual(self.person("email", email)["person_id"], p1["person_id"])
        self.assertEqual(p2["event_count"], 2)
        statuses = [m["status"] for m in self.server.merges("user_id", u2)]
        self.assertIn("refused", statuses)
        self.assertNotIn("merged", statuses)

    # ---- undo ----------------------------------------------------------------

    def test_undo_gives_each_side_back_its_own_data(self):
        user, anon = uniq("user"), uniq("anon")
        own_u = [identify(user_id=user, traits={"plan": "pro", "city": "Beijing"},
                          timestamp=ts(0)),
                 track("Order Completed", user_id=user, properties={"revenue": 100},
                       timestamp=ts(1)),
                 track("Order Completed", user_id=user, properties={"revenue": 50.5},
                       timestamp=ts(2))]
        own_a = [track("Order Completed", anonymous_id=anon, properties={"revenue": 30},
                       timestamp=ts(3)),
                 track("Product Viewed", anonymous_id=anon, timestamp=ts(4)),
                 identify(anonymous_id=anon, traits={"color": "red", "city": "Shenzhen"},
                          timestamp=ts(5))]
        self.send(*own_u)
        self.send(*own_a)
        pu = self.person("user_id", user)
        pa = self.person("anonymous_id", anon)
        self.assertNotEqual(pu["person_id"], pa["person_id"])
        stats_before = self.server.stats()

        link = identify(user_id=user, anonymous_id=anon, timestamp=ts(6))
        self.send(link)
        merged = self.person("user_id", user)
        self.assertEqual(merged["person_id"], pu["person_id"])
        self.assertEqual(self.person("anonymous_id", anon)["person_id"], pu["person_id"])
        self.assertEqual(merged["event_count"], 7)
        self.assertEqual(merged["event_counts"].get("Order Completed"), 3)
        self.assertEqual(merged["event_counts"].get("Product Viewed"), 1)
        self.assertAlmostEqual(merged["revenue"], 180.5)
        self.assertAlmostEqual(merged["revenue_by_event"].get("Order Completed"), 180.5)
        self.assertEqual(merged["traits"].get("plan"), "pro")
        self.assertEqual(merged["traits"].get("color"), "red")
        self.assertEqual(merged["traits"].get("city"), "Shenzhen", "the newer value wins")
        self.assertEqual(len(self.server.person_events("user_id", user)), 7)
        self.assertEqual(self.server.stats()["persons"], stats_before["persons"] - 1)

        entries = [m for m in self.server.merges("user_id", user) if m["status"] == "merged"]
        self.assertEqual(len(entries), 1, entries)
        merge = entries[0]
        self.assertEqual(merge["survivor"], pu["person_id"])
        self.assertEqual(merge["absorbed"], pa["person_id"])

        r = self.server.post(f"/v1/merges/{merge['id']}/undo")
        self.assertEqual(r.status, 200, r)
        body = r.json()
        self.assertEqual(body["undone"], merge["id"])
        self.assertEqual(body["survivor"], pu["person_id"])
        self.assertNotEqual(body["restored"], pu["person_id"])

        after_u = self.person("user_id", user)
        after_a = self.person("anonymous_id", anon)
        self.assertEqual(after_u["person_id"], pu["person_id"])
        self.assertEqual(after_a["person_id"], body["restored"])
        self.assertNotIn(("anonymous_id", anon), identities(after_u))
        self.assertNotIn(("user_id", user), identities(after_a))
        self.assertEqual(after_u["traits"].get("plan"), "pro")
        self.assertEqual(after_u["traits"].get("city"), "Beijing")
        self.assertNotIn("color", after_u["traits"])
        self.assertEqual(after_a["traits"].get("color"), "red")
        self.assertEqual(after_a["traits"].get("city"), "Shenzhen")
        self.assertNotIn("plan", after_a["traits"])

        ev_u = stored_ids(self.server.person_events("user_id", user))
        ev_a = stored_ids(self.server.person_events("anonymous_id", anon))
        self.assertEqual(set(ev_u) & set(ev_a), set())
        self.assertTrue(set(sent_ids(own_u)) <= set(ev_u), ev_u)
        self.assertTrue(set(sent_ids(own_a)) <= set(ev_a), ev_a)
        self.assertEqual(set(ev_u) | set(ev_a), set(sent_ids(own_u + own_a + [link])))
        self.assertEqual(after_u["event_count"], len(ev_u))
        self.assertEqual(after_a["event_count"], len(ev_a))
        self.assertEqual(after_u["event_counts"].get("Order Completed"), 2)
        self.assertEqual(after_a["event_counts"].get("Order Completed"), 1)
        self.assertAlmostEqual(after_u["revenue"], 150.5)
        self.assertAlmostEqual(after_a["revenue"], 30)
        for mid in sent_ids(own_a):
            self.assertEqual(self.server.event(mid)["person_id"], after_a["person_id"])
        self.assertEqual(self.server.stats()["persons"], stats_before["persons"])

        statuses = {m["id"]: m["status"] for m in self.server.merges("user_id", user)}
        self.assertEqual(statuses.get(merge["id"]), "undone")
        again = self.server.post(f"/v1/merges/{merge['id']}/undo")
        self.assertEqual(again.status, 409, again)
        self.assertIn("error", again.json())

        # New events after the undo go to each side separately.
        self.send(track("Order Completed", anonymous_id=anon, properties={"revenue": 1},
                        timestamp=ts(7)))
        self.assertAlmostEqual(self.person("anonymous_id", anon)["revenue"], 31)
        self.assertAlmostEqual(self.person("user_id", user)["revenue"], 150.5)

    def test_undo_unknown_merge_is_404(self):
        r = self.server.post("/v1/merges/987654321/undo")
        self.assertEqual(r.status, 404, r)
        self.assertIn("error", r.json())

    def test_undo_needs_the_admin_key(self):
        r = self.server.post("/v1/merges/1/undo", auth="write")
        self.assertEqual(r.status, 403, r)
        r = self.server.post("/v1/merges/1/undo", auth=None)
        self.assertEqual(r.status, 401, r)

    # ---- traits and timestamps --------------------------------------------

    def test_traits_latest_timestamp_wins_per_key(self):
        user = uniq("user")
        self.send(identify(user_id=user, traits={"plan": "gold", "tier": 2},
                           timestamp="2024-03-02T00:00:00Z"))
        self.send(identify(user_id=user, traits={"plan": "silver", "city": "Shanghai"},
                           timestamp="2024-03-01T00:00:00Z"))
        p = self.person("user_id", user)
        self.assertEqual(p["traits"].get("plan"), "gold", "an older value must not win")
        self.assertEqual(p["traits"].get("city"), "Shanghai")
        self.assertEqual(p["traits"].get("tier"), 2)
        self.send(identify(user_id=user, traits={"plan": "platinum"},
                           timestamp="2024-03-03T00:00:00Z"))
        p = self.person("user_id", user)
        self.assertEqual(p["traits"].get("plan"), "platinum")
        self.assertEqual(p["traits"].get("city"), "Shanghai")
        self.assertEqual(parse_ts(p["first_seen"]), parse_ts("2024-03-01T00:00:00Z"))
        self.assertEqual(parse_ts(p["last_seen"]), parse_ts("2024-03-03T00:00:00Z"))

    def test_traits_of_both_sides_merge_latest_wins(self):
        user, anon = uniq("user"), uniq("anon")
        self.send(identify(user_id=user, traits={"city": "Chengdu"},
                           timestamp="2024-04-01T00:00:00Z"))
        self.send(identify(anonymous_id=anon, traits={"city": "Wuhan", "age": 30},
                           timestamp="2024-04-02T00:00:00Z"))
        self.send(identify(user_id=user, anonymous_id=anon, timestamp="2024-04-03T00:00:00Z"))
        p = self.person("user_id", user)
        self.assertEqual(p["traits"].get("city"), "Wuhan")
        self.assertEqual(p["traits"].get("age"), 30)

    def test_timestamp_corrects_client_clock_skew(self):
        user = uniq("user")
        # The client's clock is years behind: it sent the event 10 s after it
        # happened, so the event time is receivedAt - 10 s.
        e = track("Clock Skew", user_id=user, originalTimestamp="2001-01-01T00:00:00.000Z",
                  sentAt="2001-01-01T00:00:10.000Z")
        before = time.time()
        self.send(e)
        after = time.time()
        got = parse_ts(self.server.event(e["messageId"])["timestamp"])
        self.assertGreaterEqual(got, before - 10 - 1)
        self.assertLessEqual(got, after - 10 + 1)

        explicit = track("Explicit", user_id=user, timestamp="2023-06-01T08:00:00Z",
                         originalTimestamp="2001-01-01T00:00:00Z", sentAt="2001-01-01T00:00:10Z")
        self.send(explicit)
        got = parse_ts(self.server.event(explicit["messageId"])["timestamp"])
        self.assertEqual(got, parse_ts("2023-06-01T08:00:00Z"))

        batch_sent = track("Batch SentAt", user_id=user, originalTimestamp="2001-01-01T00:00:00Z")
        before = time.time()
        r = self.server.ingest("/v1/batch", {"batch": [batch_sent],
                                             "sentAt": "2001-01-01T00:01:00Z"})
        after = time.time()
        self.assertEqual(r.status, 200, r)
        got = parse_ts(self.server.event(batch_sent["messageId"])["timestamp"])
        self.assertGreaterEqual(got, before - 60 - 1)
        self.assertLessEqual(got, after - 60 + 1)

    # ---- durability ----------------------------------------------------------

    def test_persons_and_identities_survive_restarts(self):
        user, anon = uniq("user"), uniq("anon")
        self.send(track("Product Viewed", anonymous_id=anon, timestamp=ts(0)),
                  identify(user_id=user, anonymous_id=anon,
                           traits={"email": f"{user}@example.com", "name": "张伟"},
                           timestamp=ts(1)),
                  track("Order Completed", user_id=user, properties={"revenue": 42},
                        timestamp=ts(2)))
        keys = ("events", "persons", "identities", "merges")
        stats = {k: self.server.stats()[k] for k in keys}
        person = self.person("user_id", user)
        merges = self.server.merges("user_id", user)

        for hard in (False, True):
            self.server.restart(hard=hard)
            self.assertEqual({k: self.server.stats()[k] for k in keys}, stats,
                             f"stats after restart (kill -9={hard})")
            again = self.person("user_id", user)
            self.assertEqual(again, person)
            self.assertEqual(self.person("anonymous_id", anon)["person_id"],
                             person["person_id"])
            self.assertEqual(self.person("email", f"{user}@example.com")["person_id"],
                             person["person_id"])
            self.assertEqual(self.server.merges("user_id", user), merges)
            self.assertEqual(len(self.server.person_events("user_id", user)), 3)


    # ---- identifier values ---------------------------------------------------

    def test_user_ids_are_exact_strings(self):
        base = uniq("Case")
        self.send(track("A", user_id=base), track("B", user_id=base.lower()))
        self.assertNotEqual(self.person("user_id", base)["person_id"],
                            self.person("user_id", base.lower())["person_id"],
                            "user_id is case-sensitive")
        for v in (base, base.lower()):
            self.assertIn(("user_id", v), identities(self.person("user_id", v)))

    def check_user_id_round_trip(self, value):
        """Whatever the server accepts as a userId must be reachable through
        GET /v1/persons/user_id/{value}; otherwise it must refuse it."""
        e = track("Odd Id", user_id=value)
        r = self.server.ingest("/v1/batch", {"batch": [e]})
        self.assertIn(r.status, (200, 400), r)
        if r.status == 200 and r.json()["accepted"] == 1:
            p = self.server.get(f"/v1/persons/user_id/{quote(value)}")
            self.assertEqual(p.status, 200,
                             f"user_id {value!r} was accepted but cannot be looked up: {p!r}")
            self.assertEqual(p.json()["person_id"],
                             self.server.event(e["messageId"])["person_id"])

    def test_an_accepted_user_id_can_be_looked_up(self):
        for value in (uniq("ctl") + "\u0001\u001f", uniq("tab") + "\tx",
                      uniq("slash") + "/..%2F", uniq("emoji") + "\U0001F600"):
            with self.subTest(value=repr(value)):
                self.check_user_id_round_trip(value)

    # A NUL byte cannot appear in a URL path, so such a userId is refused.
    def test_an_accepted_user_id_with_nul_can_be_looked_up(self):
        self.check_user_id_round_trip(uniq("nul") + "\u0000x")

    def test_numeric_user_id_is_its_decimal_string(self):
        n = int(uuid.uuid4().int % 10**12)
        self.send(track("Numeric", user_id=n))
        p = self.person("user_id", str(n))
        self.assertEqual(p["event_count"], 1)



class IdentityInvariantsTest(ServerTestCase):
    """A random identity workload sent concurrently; whatever order the
    server saw it in, the books must balance before and after kill -9 and
    after undoing every merge."""

    SEED = 7

    @classmethod
    def setUpClass(cls):
        cls.server = FacetServer(name="identity-invariants").start()

    def workload(self, rng):
        users = [f"inv-u{i}" for i in range(25)]
        anons = [f"inv-a{i}" for i in range(70)]
        emails = [f"inv-{i}@example.com" for i in range(15)]
        devices = [f"inv-d{i}" for i in range(20)]
        events = []
        for i in range(600):
            kind = rng.random()
            t = ts(i)
            if kind < 0.35:
                e = track("Product Viewed", anonymous_id=rng.choice(anons), timestamp=t,
                          properties={"revenue": rng.randrange(1, 50)})
            elif kind < 0.5:
                e = track("Order Completed", user_id=rng.choice(users), timestamp=t,
                          properties={"revenue": rng.randrange(10, 500)})
            elif kind < 0.62:
                e = identify(user_id=rng.choice(users), anonymous_id=rng.choice(anons),
                             timestamp=t, traits={"n": i})
            elif kind < 0.72:
                e = identify(anonymous_id=rng.choice(anons), timestamp=t,
                             traits={"email": rng.choice(emails)})
            elif kind < 0.78:
                e = identify(user_id=rng.choice(users), timestamp=t,
                             traits={"email": rng.choice(emails)})
            elif kind < 0.86:
                e = make_event("alias", user_id=rng.choice(users),
                               previousId=rng.choice(anons), timestamp=t)
            else:
                e = track("App Opened", anonymous_id=rng.choice(anons), timestamp=t,
                          context={"device": {"id": rng.choice(devices)}})
            events.append(e)
        lookups = ([("user_id", u) for u in users] + [("anonymous_id", a) for a in anons]
                   + [("email", m) for m in emails] + [("device_id", d) for d in devices])
        return events, lookups

    def send_concurrently(self, events, threads=4):
        chunks = [events[i:i + 25] for i in range(0, len(events), 25)]
        errors = []

        def run(part):
            for chunk in part:
                r = self.server.ingest("/v1/batch", {"batch": chunk})
                if r.status != 200 or r.json()["accepted"] != len(chunk):
                    errors.append(r)

        workers = [threading.Thread(target=run, args=(chunks[k::threads],))
                   for k in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(timeout=120)
        self.assertEqual(errors, [])

    def snapshot(self, lookups):
        """{person_id: person document} for every person reachable from `lookups`."""
        persons = {}
        for ns, value in lookups:
            p = self.server.person(ns, value)
            if p is not None:
                persons[p["person_id"]] = p
        return persons

    def check_books(self, events, lookups, what):
        persons = self.snapshot(lookups)
        stats = self.server.stats()
        self.assertEqual(stats["events"], len(events), what)
        self.assertEqual(stats["persons"], len(persons), f"{what}: persons reachable")
        total_events = 0
        total_revenue = 0.0
        owner = {}
        for pid, p in persons.items():
            self.assertLessEqual(namespaces(p).count("user_id"), 1, f"{what}: {p['identities']}")
            self.assertEqual(sum(p["counts_by_type"].values()), p["event_count"], what)
            for ident in p["identities"]:
                if ident["ns"] in ("user_id", "anonymous_id", "device_id"):
                    q = self.server.person(ident["ns"], ident["value"])
                    self.assertEqual(q and q["person_id"], pid, f"{what}: {ident}")
            total_events += p["event_count"]
            total_revenue += p["revenue"]
        for e in events:
            stored = self.server.event(e["messageId"])
            self.assertIsNotNone(stored, f"{what}: {e['messageId']}")
            owner.setdefault(stored["person_id"], []).append(e["messageId"])
        self.assertEqual(total_events, len(events), f"{what}: sum of event_count")
        self.assertAlmostEqual(total_revenue,
                               sum(e.get("properties", {}).get("revenue", 0) for e in events),
                               msg=f"{what}: sum of revenue")
        self.assertEqual(set(owner) - set(persons), set(), f"{what}: events of unknown persons")
        for pid, p in persons.items():
            self.assertEqual(p["event_count"], len(owner.get(pid, [])),
                             f"{what}: person {pid} event_count vs events attributed")
        # The events listing of one identifier per person agrees as well.
        for ns, value in lookups:
            p = self.server.person(ns, value)
            if p is None or ns != "anonymous_id":
                continue
            page = self.server.person_events(ns, value)
            self.assertCountEqual(stored_ids(page), owner.get(p["person_id"], []),
                                  f"{what}: events listing of {ns}/{value}")
            times = [parse_ts(e["timestamp"]) for e in page]
            self.assertEqual(times, sorted(times, reverse=True),
                             f"{what}: events of {ns}/{value} not newest first")
        return persons

    def test_books_balance_through_merges_restarts_and_undos(self):
        rng = random.Random(self.SEED)
        events, lookups = self.workload(rng)
        self.send_concurrently(events)
        before = self.check_books(events, lookups, "after ingest")

        self.server.restart(hard=True)
        after = self.check_books(events, lookups, "after kill -9")
        self.assertEqual(after, before, "persons changed across kill -9")

        merges = {}
        for ns, value in lookups:
            r = self.server.get(f"/v1/persons/{ns}/{value}/merges")
            if r.status == 200:
                for m in r.json()["merges"]:
                    merges[m["id"]] = m
        # Undo in random order: older merges first as often as newer ones.
        merged = sorted((m for m in merges.values() if m["status"] == "merged"),
                        key=lambda m: m["id"])
        rng.shuffle(merged)
        self.assertGreater(len(merged), 3, "the workload should cause merges")
        refused = [m for m in merges.values() if m["status"] == "refused"]
        self.assertGreater(len(refused), 0, "the workload should cause refused links")
        undone = 0
        for m in merged:
            r = self.server.post(f"/v1/merges/{m['id']}/undo")
            self.assertIn(r.status, (200, 409), r)
            undone += r.status == 200
        self.assertGreater(undone, 0)
        after_undo = self.check_books(events, lookups, "after undoing every merge")
        self.assertGreater(len(after_undo), len(before))

        self.server.restart(hard=True)
        again = self.check_books(events, lookups, "after undo and kill -9")
        self.assertEqual(again, after_undo, "persons changed across kill -9 after undo")


if __name__ == "__main__":
    main()
