"""What a public write key can do: each attack of an internet stranger who
holds only the write key of a web page, against the real server.

Write keys ship inside pages and apps. These tests send what such a key
allows and check that memory stays bounded, that one person cannot capture
or poison another's profile, that nobody can hide another sender's events
behind a guessed messageId, that a heavy audience preview does not stall
ingest, and that exports cannot smuggle spreadsheet formulas or raw PII.
"""

import json
import os
import sys
import threading
import time

from facet_server import (FacetServer, ServerTestCase, basic_auth, identify, main, new_id, quote,
                          track, ts, wait_until)

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
        cls.server = FacetServer(name="trait-memory", write_keys=(CLIENT_KEY,),
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


if __name__ == "__main__":
    main()
