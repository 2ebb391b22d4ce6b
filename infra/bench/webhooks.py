#!/usr/bin/env python3
"""Section 7 of the benchmark: webhook delivery end to end on the local stack.

Registers N developers on a fresh portal whose one endpoint is a loopback receiver that
verifies every delivery with the `standardwebhooks` library, and measures the time from the
first registration to the last verified delivery (events delivered per second, end to end:
API → table → stream → webhook-fanout → queue → webhook-delivery → receiver). The round trips
per delivery are read from the fault proxy's call record (`GET /__calls`, per function and
action) as the difference before and after, divided by N.

Needs a running stack (`bash infra/local/up.sh --detach`, in the same network namespace) and
nothing else running against it (other callers' webhook traffic would be counted too).
bench.py runs it as section 7 when `.gatehouse/local.env` exists and the stack answers;
alone it prints the rows as the same Markdown table:

    python3 infra/bench/webhooks.py [--developers 50]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))
sys.path.insert(0, str(ROOT / "tests" / "webhooks"))
from receiver import Receiver, call, env_file  # noqa: E402  (the receiver the end-to-end tests use)
SECTION = "7 webhook delivery (local stack, debug build, end to end)"
WORKERS = ("webhook-fanout", "webhook-delivery")
# docs/design.md §2c: fan-out 1 Query (endpoints) + 1 PutItem (delivery) per event and endpoint;
# the worker 3 GetItem (endpoint, delivery, event) + 1 Query (older pending) + 1 PutItem
# (the delivery's outcome) per attempt; sqs:SendMessage once per delivery (the fan-out's).
CLAIMED_DYNAMODB_PER_DELIVERY = 7


class VerifyingReceiver(Receiver):
    """Answers 200 to every POST whose signature verifies (400 otherwise); records when each
    event first arrived."""

    def __init__(self):
        from standardwebhooks.webhooks import Webhook

        self.secret: str | None = None
        self.arrived: dict[str, float] = {}
        self.rejected = 0

        def answer(_n, headers, body):  # called under the receiver's lock
            try:
                Webhook(self.secret).verify(body, headers)
            except Exception:  # noqa: BLE001 - any failure is a rejected delivery
                self.rejected += 1
                return 400
            self.arrived.setdefault(headers["webhook-id"], time.monotonic())
            return 200

        super().__init__(answer, poll_interval=0.05)

    @property
    def count(self) -> int:
        return len(self.requests)


def calls(faults_url: str) -> Counter:
    """The fault proxy's call record, summed per (function, service, action)."""
    base = faults_url.rsplit("/__faults", 1)[0]
    with _HTTP.open(f"{base}/__calls", timeout=30) as r:
        record = json.loads(r.read())
    out: Counter = Counter()
    for c in record:
        out[(c["function"], c["service"], c["action"])] += c["count"]
    return out


def settled(faults_url: str, quiet: float = 3.0, limit: float = 90.0) -> Counter:
    """The call record once the workers have made no call for `quiet` seconds (retries of
    earlier tests' deliveries would be counted otherwise)."""
    deadline = time.monotonic() + limit
    last = calls(faults_url)
    while True:
        time.sleep(quiet)
        now = calls(faults_url)
        if all(now[k] == last[k] for k in now if k[0] in WORKERS) or time.monotonic() > deadline:
            return now
        last = now


def stack_env(root: Path = ROOT) -> dict[str, str] | None:
    path = root / ".gatehouse" / "local.env"
    if not path.exists():
        return None
    env = env_file(path)
    try:
        status, _ = call("GET", f"{env['GATEHOUSE_API']}/portals/{env['GATEHOUSE_PORTAL_ID']}", None, env["GATEHOUSE_ADMIN_TOKEN"])
    except (OSError, KeyError):
        return None
    return env if status == 200 else None


def measure(env: dict[str, str], developers: int, timeout: float = 600.0) -> list[tuple]:
    """Returns rows (section, subject, result, target, ok, details) for bench.py's table."""
    api, token = env["GATEHOUSE_API"], env["GATEHOUSE_ADMIN_TOKEN"]
    receiver = VerifyingReceiver()
    try:
        status, portal = call("POST", f"{api}/portals", {"name": f"Bench hooks {uuid.uuid4().hex[:8]}"}, token)
        if status != 201:
            raise RuntimeError(f"portal create: {status} {portal}")
        status, hook = call("POST", f"{api}/portals/{portal['id']}/webhooks",
                            {"url": receiver.url, "events": ["developer.registered"]}, token)
        if status != 201:
            raise RuntimeError(f"webhook create: {status} {hook}")
        receiver.secret = hook["secret"]
        # One delivery first so the lambdas are warm (cargo lambda watch builds lazily).
        warm = call("POST", f"{api}/portals/{portal['id']}/register",
                    {"email": f"warm-{uuid.uuid4().hex[:8]}@example.com", "password": "correct horse battery staple", "name": "Warm"})
        if warm[0] != 202:
            raise RuntimeError(f"register: {warm}")
        deadline = time.monotonic() + timeout
        while not receiver.arrived:
            if time.monotonic() > deadline:
                raise RuntimeError("the warm-up delivery never arrived")
            time.sleep(0.1)
        before = settled(env["GATEHOUSE_FAULTS"])
        with receiver.lock:
            warmed, warm_requests = len(receiver.arrived), receiver.count

        def register(i):
            status, body = call("POST", f"{api}/portals/{portal['id']}/register",
                                {"email": f"bench-{i}-{uuid.uuid4().hex[:6]}@example.com",
                                 "password": "correct horse battery staple", "name": f"Bench {i}"})
            if status != 202:
                raise RuntimeError(f"register {i}: {status} {body}")
        t0 = time.monotonic()
        # As many at once as the stack runs registration instances (GATEHOUSE_CONCURRENCY, 3).
        with ThreadPoolExecutor(max_workers=3) as pool:
            list(pool.map(register, range(developers)))
        t_registered = time.monotonic()
        while len(receiver.arrived) < warmed + developers:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(receiver.arrived) - warmed} of {developers} deliveries arrived in time")
            time.sleep(0.05)
        last = max(receiver.arrived.values())
        after = settled(env["GATEHOUSE_FAULTS"])  # the workers' last writes after the POST answered
    finally:
        receiver.close()
    elapsed = last - t0
    delta = Counter({k: after[k] - before.get(k, 0) for k in after if k[0] in WORKERS and after[k] - before.get(k, 0)})
    ddb = sum(n for (fn, svc, _), n in delta.items() if svc == "dynamodb")
    per = {fn: sum(n for (f, svc, _), n in delta.items() if f == fn and svc == "dynamodb") / developers for fn in WORKERS}
    actions = ", ".join(f"{fn} {a} {n / developers:.2f}" for (fn, _, a), n in sorted(delta.items()))
    rate = developers / elapsed if elapsed > 0 else float("inf")
    per_delivery = ddb / developers
    return [
        (SECTION, f"{developers} developer.registered → 1 endpoint (loopback, verified by standardwebhooks)",
         f"{rate:.1f} events/s; first registration → last verified delivery {elapsed:.1f} s",
         "", "", f"registrations (3 at a time) took {t_registered - t0:.1f} s of it, the last delivery came {last - t_registered:.1f} s "
         f"after the last registration; {receiver.count - warm_requests} POSTs received, "
         f"{receiver.rejected} rejected; the local stack's stream pump and SQS poller, not the functions, set the pace"),
        (SECTION, "DynamoDB round trips per delivery (fault proxy's call record)",
         f"{per_delivery:.2f} (fan-out {per['webhook-fanout']:.2f}, worker {per['webhook-delivery']:.2f})",
         f"{CLAIMED_DYNAMODB_PER_DELIVERY} (docs/design.md §2c)",
         "yes" if per_delivery <= CLAIMED_DYNAMODB_PER_DELIVERY + 0.05 else "NO", actions),
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--developers", type=int, default=50)
    args = ap.parse_args()
    env = stack_env()
    if env is None:
        print("no local stack answers (bash infra/local/up.sh --detach, in the same network namespace)")
        return 2
    rows = measure(env, args.developers)
    print("| # | measurement | subject | result | target | ok | details |\n|---|---|---|---|---|---|---|")
    for section, *cells in rows:
        n, name = section.split(" ", 1)
        print("| " + " | ".join(c.replace("|", "\\|") for c in [n, name, *cells]) + " |")
    return 1 if any(r[4] == "NO" for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
