#!/usr/bin/env python3
"""End to end: `facet import` of the whole UCI Online Retail file.

Starts the real server (`facet serve`, $FACET_BIN, else <repo>/build/src/app/facet)
on a free 127.0.0.1 port with a temp data dir, imports
../shared/data/online-retail/online_retail.csv with
examples/online-retail/mapping.yaml, and checks:

  * the summary accounts for every row: rows_read == rows_imported + rows_rejected,
    and rows_read is the number of data rows the csv module reads;
  * for every customer (so also a random sample and the top 20 by revenue),
    GET /v1/persons/user_id/<id> has event_counts["Order Completed"] equal to the
    customer's distinct invoices not starting with "C", event_counts["Order
    Refunded"] equal to the "C" invoices, revenue_by_event["Order Completed"]
    equal to sum(Quantity * UnitPrice) over the non-C rows within 0.01, and the
    trait country of the latest invoice; all computed here with the csv module,
    independently of the importer;
  * guests (no CustomerID) are persons keyed by anonymous_id guest-<InvoiceNo>;
  * GET /v1/stats counts one event per invoice, and importing again stores
    nothing twice;
  * audience previews as of the file's last invoice give the counts the same
    questions give in SQL (SQLite) over the CSV.

Exits 77 (skipped) when the data file is not there.
"""

import calendar
import collections
import csv
import decimal
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.normpath(
    os.path.join(REPO, "..", "shared", "data", "online-retail", "online_retail.csv"))
MAPPING = os.path.join(REPO, "examples", "online-retail", "mapping.yaml")
HOST = "127.0.0.1"
WRITE_KEY = "wk"
ADMIN_KEY = "ak"
SKIP = 77

START_DEADLINE_S = 60.0
STOP_DEADLINE_S = 30.0
IMPORT_DEADLINE_S = 600.0
SAMPLE_SIZE = 300
TOP_N = 20


def facet_bin():
    return os.environ.get("FACET_BIN") or os.path.join(REPO, "build", "src", "app", "facet")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server:
    """`facet serve` in a temp dir; stopped by its PID."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.data_dir = os.path.join(workdir, "data")
        self.log_path = os.path.join(workdir, "server.log")
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.proc = None

    def start(self):
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [facet_bin(), "serve", "--port", str(self.port), "--data-dir", self.data_dir,
             "--server-write-key", WRITE_KEY, "--admin-key", ADMIN_KEY],
            stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir)
        log.close()
        deadline = time.monotonic() + START_DEADLINE_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"facet serve exited with {self.proc.returncode}:\n"
                                   + self.log_tail())
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.1)
        raise RuntimeError("facet serve did not answer /healthz in time:\n" + self.log_tail())

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=STOP_DEADLINE_S)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def get(self, path):
        """GET with the admin key; returns (status, parsed JSON or None)."""
        req = urllib.request.Request(self.url + path,
                                     headers={"Authorization": "Bearer " + ADMIN_KEY})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, None

    def post(self, path, body):
        """POST JSON with the admin key; returns (status, parsed JSON or None)."""
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(),
                                     headers={"Authorization": "Bearer " + ADMIN_KEY,
                                              "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def log_tail(self, n=40):
        try:
            with open(self.log_path, "r", errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return "(no server log)"


def expected_from_csv(path):
    """What the import must produce, computed from the CSV alone."""
    rows = 0
    invoices = set()
    guests = set()
    completed = collections.defaultdict(set)
    refunded = collections.defaultdict(set)
    revenue = collections.defaultdict(decimal.Decimal)
    latest = {}  # customer -> (InvoiceDate, set of countries at that date)
    with open(path, newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            rows += 1
            invoice = r["InvoiceNo"]
            invoices.add(invoice)
            customer = r["CustomerID"].strip()
            if not customer:
                guests.add(invoice)
                continue
            if customer.endswith(".0"):
                customer = customer[:-2]
            if invoice.startswith("C"):
                refunded[customer].add(invoice)
            else:
                completed[customer].add(invoice)
                revenue[customer] += decimal.Decimal(r["Quantity"]) * decimal.Decimal(r["UnitPrice"])
            when, country = r["InvoiceDate"], r["Country"].strip()
            seen = latest.get(customer)
            if seen is None or when > seen[0]:
                latest[customer] = (when, {country})
            elif when == seen[0]:
                seen[1].add(country)
    customers = set(completed) | set(refunded)
    return {
        "rows": rows,
        "invoices": invoices,
        "guests": guests,
        "customers": customers,
        "completed": completed,
        "refunded": refunded,
        "revenue": revenue,
        "countries": {c: latest[c][1] for c in customers},
    }


# Audience questions asked of Facet (as of the file's last day) and, in SQL,
# of the CSV itself: (expression, SQL condition over per-person columns).
AUDIENCE_QUESTIONS = [
    ('count("Order Completed", 90d) >= 2',
     "(SELECT count(*) FROM inv i WHERE i.person = p.person AND NOT i.refund"
     " AND i.t > :as_of - 90 * 86400000 AND i.t <= :as_of) >= 2"),
    ('sum("Order Completed", properties.revenue, 365d) > 1000',
     "COALESCE((SELECT sum(i.revenue) FROM inv i WHERE i.person = p.person AND NOT i.refund"
     " AND i.t > :as_of - 365 * 86400000 AND i.t <= :as_of), 0) > 1000"),
    ('days_since_last("Order Completed") > 90',
     "(SELECT (:as_of - max(i.t)) / 86400000 FROM inv i WHERE i.person = p.person AND NOT i.refund"
     " AND i.t <= :as_of) > 90"),
    ('count("Order Refunded") >= 1 AND NOT count("Order Completed", 180d) >= 1',
     "EXISTS (SELECT 1 FROM inv i WHERE i.person = p.person AND i.refund AND i.t <= :as_of)"
     " AND NOT EXISTS (SELECT 1 FROM inv i WHERE i.person = p.person AND NOT i.refund"
     " AND i.t > :as_of - 180 * 86400000 AND i.t <= :as_of)"),
    ('avg("Order Completed", properties.revenue) > 500 OR count("Order Completed" WHERE properties.revenue > 5000) >= 1',
     "COALESCE((SELECT avg(i.revenue) FROM inv i WHERE i.person = p.person AND NOT i.refund"
     " AND i.t <= :as_of), 0) > 500 OR EXISTS (SELECT 1 FROM inv i WHERE i.person = p.person"
     " AND NOT i.refund AND i.revenue > 5000 AND i.t <= :as_of)"),
]


def audience_counts_in_sql(path):
    """Per question, the persons SQL over the CSV selects, as of its last invoice."""
    import sqlite3
    invoices = {}
    with open(path, newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            invoice = r["InvoiceNo"]
            customer = r["CustomerID"].strip()
            if customer.endswith(".0"):
                customer = customer[:-2]
            person = customer or "guest-" + invoice
            when = calendar.timegm(time.strptime(r["InvoiceDate"], "%Y-%m-%d %H:%M:%S")) * 1000
            inv = invoices.setdefault(invoice, [person, invoice.startswith("C"), when, decimal.Decimal(0)])
            inv[3] += decimal.Decimal(r["Quantity"]) * decimal.Decimal(r["UnitPrice"])
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE inv(invoice TEXT, person TEXT, refund INTEGER, t INTEGER, revenue REAL)")
    db.executemany("INSERT INTO inv VALUES(?,?,?,?,?)",
                   [(k, v[0], int(v[1]), v[2], float(v[3].quantize(decimal.Decimal("0.01"),
                                                                 rounding=decimal.ROUND_HALF_UP)))
                    for k, v in invoices.items()])
    db.execute("CREATE INDEX inv_person ON inv(person)")
    db.execute("CREATE TABLE persons AS SELECT DISTINCT person FROM inv")
    as_of = db.execute("SELECT max(t) FROM inv").fetchone()[0]
    counts = []
    for _, condition in AUDIENCE_QUESTIONS:
        sql = "SELECT count(*) FROM persons p WHERE " + condition.replace(":as_of", str(as_of))
        counts.append(db.execute(sql).fetchone()[0])
    return as_of, counts


def check_audiences(checks, server):
    """Previews as of the last day give the counts SQL gives over the CSV."""
    as_of, want = audience_counts_in_sql(DATA)
    as_of_text = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(as_of / 1000))
    for (expression, _), expected in zip(AUDIENCE_QUESTIONS, want):
        status, body = server.post("/v1/segments/preview",
                                   {"expression": expression, "as_of": as_of_text, "sample": 0})
        got = (body or {}).get("count")
        checks.expect(status == 200 and got == expected,
                      f"preview {expression!r} as of {as_of_text}: {status} count {got}, SQL says {expected}")
        print(f"audience {expression!r}: facet {got}, SQL {expected}, "
              f"{(body or {}).get('took_ms')} ms")


def parse_summary(text):
    summary = {}
    for line in text.splitlines():
        m = re.match(r"^\s*([a-z_]+)\s+([0-9]+(?:\.[0-9]+)?)\s*$", line)
        if m:
            value = m.group(2)
            summary[m.group(1)] = float(value) if "." in value else int(value)
    return summary


def run_import(server, workdir):
    started = time.monotonic()
    proc = subprocess.run(
        [facet_bin(), "import", "--url", server.url, "--write-key", WRITE_KEY,
         "--mapping", MAPPING, DATA],
        cwd=workdir, capture_output=True, text=True, timeout=IMPORT_DEADLINE_S)
    elapsed = time.monotonic() - started
    sys.stdout.write(proc.stdout)
    if proc.returncode not in (0, 3):
        raise AssertionError(f"facet import exited with {proc.returncode}:\n{proc.stderr[-3000:]}")
    summary = parse_summary(proc.stdout)
    for key in ("rows_read", "rows_imported", "rows_rejected", "events_sent",
                "events_accepted", "events_duplicate", "events_quarantined"):
        if key not in summary:
            raise AssertionError(f"summary has no {key}:\n{proc.stdout}")
    return summary, elapsed


class Checks:
    def __init__(self):
        self.failures = []

    def expect(self, ok, message):
        if not ok:
            self.failures.append(message)

    def report(self):
        for f in self.failures[:50]:
            print("FAIL:", f)
        if len(self.failures) > 50:
            print(f"... and {len(self.failures) - 50} more failures")
        return not self.failures


def check_accounting(checks, summary, expected, label):
    checks.expect(summary["rows_read"] == expected["rows"],
                  f"{label}: rows_read {summary['rows_read']} != {expected['rows']} rows in the CSV")
    checks.expect(summary["rows_read"] == summary["rows_imported"] + summary["rows_rejected"],
                  f"{label}: rows_read {summary['rows_read']} != rows_imported "
                  f"{summary['rows_imported']} + rows_rejected {summary['rows_rejected']}")
    checks.expect(summary["events_sent"] == summary["events_accepted"]
                  + summary["events_duplicate"] + summary["events_quarantined"],
                  f"{label}: events do not add up: {summary}")


def check_customers(checks, server, expected):
    customers = sorted(expected["customers"])
    top = sorted(customers, key=lambda c: expected["revenue"][c], reverse=True)[:TOP_N]
    sample = random.Random(20111209).sample(customers, min(SAMPLE_SIZE, len(customers)))
    # The sample and the top customers first, so that a failure names them early;
    # then every other customer.
    ordered = list(dict.fromkeys(top + sample + customers))
    for customer in ordered:
        status, person = server.get("/v1/persons/user_id/" + urllib.parse.quote(customer, safe=""))
        if status != 200 or not isinstance(person, dict):
            checks.expect(False, f"customer {customer}: GET persons answered {status}")
            continue
        counts = person.get("event_counts") or {}
        want_completed = len(expected["completed"].get(customer, ()))
        want_refunded = len(expected["refunded"].get(customer, ()))
        checks.expect(counts.get("Order Completed", 0) == want_completed,
                      f"customer {customer}: {counts.get('Order Completed', 0)} Order Completed, "
                      f"expected {want_completed}")
        checks.expect(counts.get("Order Refunded", 0) == want_refunded,
                      f"customer {customer}: {counts.get('Order Refunded', 0)} Order Refunded, "
                      f"expected {want_refunded}")
        got_revenue = (person.get("revenue_by_event") or {}).get("Order Completed", 0.0)
        want_revenue = float(expected["revenue"].get(customer, 0))
        checks.expect(abs(got_revenue - want_revenue) <= 0.01,
                      f"customer {customer}: revenue {got_revenue}, expected {want_revenue:.2f}")
        country = (person.get("traits") or {}).get("country")
        checks.expect(country in expected["countries"][customer],
                      f"customer {customer}: country {country!r}, expected one of "
                      f"{sorted(expected['countries'][customer])}")
    return len(ordered), len(sample), len(top)


def check_guests(checks, server, expected):
    guests = sorted(expected["guests"])
    for invoice in random.Random(7).sample(guests, min(50, len(guests))):
        status, person = server.get("/v1/persons/anonymous_id/"
                                    + urllib.parse.quote("guest-" + invoice, safe=""))
        if status != 200 or not isinstance(person, dict):
            checks.expect(False, f"guest invoice {invoice}: GET persons answered {status}")
            continue
        name = "Order Refunded" if invoice.startswith("C") else "Order Completed"
        checks.expect((person.get("event_counts") or {}).get(name) == 1,
                      f"guest invoice {invoice}: event_counts {person.get('event_counts')}")


def main():
    if not os.path.exists(DATA):
        print(f"SKIP: {DATA} is not there")
        return SKIP
    if not os.access(facet_bin(), os.X_OK):
        print(f"FAIL: no facet binary at {facet_bin()} (set FACET_BIN)")
        return 1

    expected = expected_from_csv(DATA)
    print(f"CSV: {expected['rows']} rows, {len(expected['invoices'])} invoices, "
          f"{len(expected['customers'])} customers, {len(expected['guests'])} guest invoices")

    checks = Checks()
    with tempfile.TemporaryDirectory(prefix="facet-online-retail-") as workdir:
        server = Server(workdir)
        try:
            server.start()
            summary, elapsed = run_import(server, workdir)
            print(f"first import: {summary['rows_read'] / elapsed:.0f} rows/s "
                  f"({elapsed:.1f} s wall clock)")
            check_accounting(checks, summary, expected, "first import")
            checks.expect(summary["rows_rejected"] == 0,
                          f"first import rejected {summary['rows_rejected']} rows")
            rejects = os.path.join(workdir, "online_retail.csv.rejects.csv")
            if os.path.exists(rejects):
                with open(rejects, errors="replace") as f:
                    print("reject file starts with:\n" + "".join(f.readlines()[:10]))
            checks.expect(summary["events_accepted"] == len(expected["invoices"]),
                          f"{summary['events_accepted']} events accepted, expected one per "
                          f"invoice ({len(expected['invoices'])})")

            status, stats = server.get("/v1/stats")
            checks.expect(status == 200 and stats is not None, f"GET /v1/stats answered {status}")
            events_before = (stats or {}).get("events")
            checks.expect(events_before == summary["events_accepted"],
                          f"/v1/stats events {events_before} != events accepted "
                          f"{summary['events_accepted']}")

            checked, sampled, top = check_customers(checks, server, expected)
            print(f"checked {checked} customers (a random sample of {sampled} and the top "
                  f"{top} by revenue first, then all others)")
            check_guests(checks, server, expected)
            check_audiences(checks, server)

            again, _ = run_import(server, workdir)
            check_accounting(checks, again, expected, "second import")
            checks.expect(again["events_accepted"] == 0,
                          f"second import stored {again['events_accepted']} events again")
            checks.expect(again["events_duplicate"] == summary["events_accepted"],
                          f"second import: {again['events_duplicate']} duplicates, expected "
                          f"{summary['events_accepted']}")
            status, stats = server.get("/v1/stats")
            checks.expect((stats or {}).get("events") == events_before,
                          f"/v1/stats events changed after re-import: {events_before} -> "
                          f"{(stats or {}).get('events')}")
        except Exception as e:  # report, with the server's log, instead of a bare traceback
            checks.expect(False, f"{type(e).__name__}: {e}")
            print("server log tail:\n" + server.log_tail())
        finally:
            server.stop()

    if checks.report():
        print("PASS")
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
