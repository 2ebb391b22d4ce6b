#!/usr/bin/env python3
"""Section 8 of the benchmark: N auto-approvals end to end on the local stack (issue 18, target 4).

On a fresh portal with `auto_approve: true` and `require_verified_email: false`, registers N
developers through the front (as many at once as `--parallel`, default twice the stack's
instances per function), and measures the time from the first registration to the last
approval mail in the mailbox: API → registration → table → stream → stream-consumer
(auto-approval, a second stream record) → stream-consumer (the approval mail) → SES → mailbox.
The stack must run more than one instance per function (`GATEHOUSE_CONCURRENCY`, 3 by default),
and the exact totals of the developer list must say N approved at the end.

Needs a running stack (`bash infra/local/up.sh --detach`, in the same network namespace) and
nothing else running against it. bench.py runs it as section 8 when the stack answers; alone:

    python3 infra/bench/approvals.py [--developers 1000] [--parallel 6]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "webhooks"))
from receiver import OPENER, call  # noqa: E402  (the stack's HTTP helpers)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from webhooks import stack_env  # noqa: E402

SECTION = "8 auto-approvals end to end (local stack)"
TARGET_SECONDS = 60.0
APPROVED_SUBJECT = " is approved"  # the built-in approval mail: "Your access to {portal} is approved"


def approval_mails(mailbox: str, domain: str) -> int:
    """Approval mails in the mailbox to addresses of `domain` (one run's developers)."""
    with OPENER.open(mailbox, timeout=120) as r:
        mails = json.loads(r.read())
    return sum(1 for m in mails
               if m.get("subject", "").endswith(APPROVED_SUBJECT) and any(a.lower().endswith("@" + domain) for a in m.get("to", [])))


def measure(env: dict[str, str], developers: int, parallel: int, timeout: float = 900.0) -> list[tuple]:
    api, token, mailbox = env["GATEHOUSE_API"], env["GATEHOUSE_ADMIN_TOKEN"], env["GATEHOUSE_MAILBOX"]
    run = uuid.uuid4().hex[:8]
    domain = f"approvals-{run}.example"
    status, portal = call("POST", f"{api}/portals",
                          {"name": f"Bench approvals {run}", "auto_approve": True, "require_verified_email": False}, token)
    if status != 201:
        raise RuntimeError(f"portal create: {status} {portal}")
    pid = portal["id"]

    def register(i: int) -> None:
        for attempt in range(5):
            status, body = call("POST", f"{api}/portals/{pid}/register",
                                {"email": f"dev-{i}@{domain}", "password": "correct horse battery staple", "name": f"Developer {i}"})
            if status == 202:
                return
            if status not in (429, 503):
                raise RuntimeError(f"register {i}: {status} {body}")
            time.sleep(0.5 * (attempt + 1))
        raise RuntimeError(f"register {i}: still {status} after 5 attempts")

    # One developer first, so cargo lambda watch has built and started every function involved.
    register(-1)
    deadline = time.monotonic() + timeout
    while approval_mails(mailbox, domain) < 1:
        if time.monotonic() > deadline:
            raise RuntimeError("the warm-up approval mail never arrived")
        time.sleep(0.5)

    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        list(pool.map(register, range(developers)))
    t_registered = time.monotonic()
    got = 0
    while True:
        got = approval_mails(mailbox, domain) - 1
        if got >= developers:
            break
        if time.monotonic() > t0 + timeout:
            raise RuntimeError(f"{got} of {developers} approval mails arrived within {timeout:.0f} s")
        time.sleep(1.0)
    t_last = time.monotonic()
    status, listed = call("GET", f"{api}/portals/{pid}/developers?state=approved&limit=1", None, token)
    total = (listed or {}).get("total") if status == 200 else None
    elapsed = t_last - t0
    ok = elapsed <= TARGET_SECONDS and total == developers + 1
    concurrency = os.environ.get("GATEHOUSE_CONCURRENCY", "3")
    profile = (stack_env() or {}).get("GATEHOUSE_LOCAL_PROFILE", "debug")  # up.sh writes it (GATEHOUSE_LOCAL_RELEASE=1: release)
    return [(
        SECTION,
        f"{developers} registrations → approved → approval mail in the mailbox ({parallel} at a time; "
        f"{concurrency} instances per function, {profile} build)",
        f"{elapsed:.1f} s ({developers / elapsed:.1f} approvals/s)",
        f"≤ {TARGET_SECONDS:.0f} s",
        "yes" if ok else "NO",
        f"registrations took {t_registered - t0:.1f} s of it, the last mail came {t_last - t_registered:.1f} s after the last "
        f"registration; the list's exact total of approved developers: {total} (expected {developers + 1}, the warm-up one "
        f"included); mailbox polled once a second",
    )]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--developers", type=int, default=1000)
    ap.add_argument("--parallel", type=int, default=2 * int(os.environ.get("GATEHOUSE_CONCURRENCY", "3")))
    args = ap.parse_args()
    env = stack_env()
    if env is None:
        print("no local stack answers (bash infra/local/up.sh --detach, in the same network namespace)")
        return 2
    rows = measure(env, args.developers, args.parallel)
    print("| # | measurement | subject | result | target | ok | details |\n|---|---|---|---|---|---|---|")
    for section, *cells in rows:
        n, name = section.split(" ", 1)
        print("| " + " | ".join(c.replace("|", "\\|") for c in [n, name, *cells]) + " |")
    return 1 if any(r[4] == "NO" for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
