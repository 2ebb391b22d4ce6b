#!/usr/bin/env python3
"""Checks every AWS call the functions made during a local run against their IAM policies.

The fault proxy in front of moto records each call as (function, service, IAM action,
resource[, From address]) - the functions name themselves in their SDK user agent, and a
TransactWriteItems counts as the per-item actions IAM authorises it by. This script reads that
record (`GET /__calls` of the proxy, or a JSON file) and each function's `Policies` in
template.yaml, and

- fails when a function made a call its policy does not allow (action, resource, and the
  `ses:FromAddress` condition of SendEmail evaluated with the local sender domains), or when
  a function that made calls has no policy at all;
- reports the granted actions no call used (trim them, or say why they stay).

    python3 infra/local/iam_check.py --calls http://127.0.0.1:4567/__calls [--template template.yaml]
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import sys
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from infra.cfn import PSEUDO, function_crate, load_template, resolve  # noqa: E402

# Granted for the event source mapping and its failure destination, which Lambda itself
# uses with the function's role: no code of ours calls them.
USED_BY_LAMBDA = {
    "dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams", "sqs:SendMessage",
}


# Not Lambda functions: the operator's CLI runs with the operator's credentials.
NOT_FUNCTIONS = {"ops"}

# Granted for code paths a local run rarely takes; each is named where the code needs it.
RARE_PATHS = {
    ("approvals", "dynamodb:BatchWriteItem"): "a delete beyond one transaction (100+ items)",
    ("applications", "dynamodb:UpdateItem"): "last_active_at, when 5 minutes old",
    ("sessions", "dynamodb:UpdateItem"): "last_active_at, when 5 minutes old",
    ("stream-consumer", "dynamodb:DeleteItem"): "releasing a mail claim after a failed send",
}


def function_name(logical_id: str, resource: dict) -> str:
    """The binary (cargo package) a function runs."""
    return function_crate(logical_id, resource)


def policies(template: dict, params: dict[str, str]) -> dict[str, list[dict]]:
    """Allow statements per function, with intrinsic functions evaluated."""
    out: dict[str, list[dict]] = {}
    for logical_id, resource in (template.get("Resources") or {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        statements = []
        for policy in (resource.get("Properties") or {}).get("Policies") or []:
            if not isinstance(policy, dict) or "Statement" not in policy:
                raise SystemExit(f"{logical_id}: only inline policy documents are understood here, not {policy!r}")
            for st in policy["Statement"]:
                st = resolve(st, params)
                if st.get("Effect") != "Allow":
                    raise SystemExit(f"{logical_id}: only Allow statements are understood here")
                as_list = lambda v: v if isinstance(v, list) else [v]  # noqa: E731
                statements.append({
                    "actions": as_list(st.get("Action", [])),
                    "resources": as_list(st.get("Resource", [])),
                    "condition": st.get("Condition") or {},
                })
        out[function_name(logical_id, resource)] = statements
    return out


def arn_of(call: dict, table: str, secret_ids: set[str]) -> str:
    """The symbolic ARN (as `infra.cfn.resolve` writes the template's) a recorded call acts on."""
    service, resource = call["service"], call["resource"]
    if service in ("dynamodb", "dynamodbstreams"):
        name, _, rest = resource.removeprefix("table/").partition("/")
        base = "arn:res:Table" if name == table else f"arn:aws:dynamodb:::table/{name}"
        return f"{base}/{rest}" if rest else base
    if service == "secretsmanager":
        secret = resource.removeprefix("secret/")
        return "arn:res:TokenSecret" if secret in secret_ids else f"arn:aws:secretsmanager:::secret:{secret}"
    if service == "kms":
        return "arn:res:SsoKey"  # the local stack's one key (bootstrap creates it)
    if service == "sqs":
        return f"arn:res:{resource.removeprefix('queue/')}"
    if service == "ses":
        domain = (call.get("from") or "").rpartition("@")[2] or "*"
        return f"arn:{PSEUDO['AWS::Partition']}:ses:{PSEUDO['AWS::Region']}:{PSEUDO['AWS::AccountId']}:identity/{domain}"
    return resource


def condition_holds(condition: dict, call: dict) -> bool:
    """The condition operators the template uses, over the keys a recorded call carries."""
    sender = call.get("from") or ""
    values = {"ses:FromAddress": call.get("from")}
    if sender.startswith("ctx:"):
        values = {"kms:EncryptionContextKeys": [k for k in sender[4:].split(",") if k]}
    for operator, tests in condition.items():
        for key, expected in tests.items():
            actual = values.get(key)
            expected = expected if isinstance(expected, list) else [expected]
            if actual is None:
                return False
            if operator == "ForAllValues:StringEquals":
                if not all(a in expected for a in actual):
                    return False
                continue
            if operator == "StringLike" and not any(fnmatch.fnmatchcase(actual, p) for p in expected):
                return False
            if operator == "StringEquals" and actual not in expected:
                return False
            if operator not in ("StringLike", "StringEquals", "ForAllValues:StringEquals"):
                return False
    return True


def allowed(statements: list[dict], call: dict, arn: str) -> tuple[bool, list[str]]:
    """Whether some statement allows the call; and the granted action patterns it matched."""
    matched = []
    for st in statements:
        if not any(fnmatch.fnmatch(call["action"].lower(), a.lower()) for a in st["actions"]):
            continue
        if not any(fnmatch.fnmatchcase(arn, r) for r in st["resources"]):
            continue
        if not condition_holds(st["condition"], call):
            continue
        matched.extend(a for a in st["actions"] if fnmatch.fnmatch(call["action"].lower(), a.lower()))
    return bool(matched), matched


def check(template: dict, calls: list[dict], params: dict[str, str], table: str, secret_ids: set[str]) -> tuple[list[str], list[str]]:
    """(denied calls, granted actions never used), as readable lines."""
    per_function = policies(template, params)
    denied, used = [], {name: set() for name in per_function}
    for call in calls:
        name = call["function"]
        if name in NOT_FUNCTIONS:
            continue
        if name not in per_function:
            denied.append(f"{name}: called {call['action']} but the template has no function (policy) for it")
            continue
        arn = arn_of(call, table, secret_ids)
        ok, matched = allowed(per_function[name], call, arn)
        if ok:
            used[name].update(m.lower() for m in matched)
        else:
            sender = f" from {call['from']}" if call.get("from") else ""
            denied.append(f"{name}: {call['action']} on {arn}{sender} ({call.get('count', 1)}x) is not allowed by its policy")
    unused = []
    for name, statements in sorted(per_function.items()):
        granted = {a for st in statements for a in st["actions"]}
        idle = sorted(a for a in granted if a.lower() not in used[name] and a not in USED_BY_LAMBDA)
        idle = [f"{a} ({RARE_PATHS[(name, a)]}: not taken in this run)" if (name, a) in RARE_PATHS else a for a in idle]
        if idle:
            unused.append(f"{name}: {', '.join(idle)}")
    return denied, unused


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", required=True, help="the fault proxy's /__calls URL, or a JSON file")
    parser.add_argument("--template", default=str(Path(__file__).resolve().parents[2] / "template.yaml"))
    args = parser.parse_args()
    if args.calls.startswith("http"):
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(args.calls, timeout=10) as r:
            calls = json.load(r)
    else:
        calls = json.loads(Path(args.calls).read_text())
    if not calls:
        print("iam_check: no calls were recorded (do the functions reach AWS through the fault proxy?)", file=sys.stderr)
        return 1
    env = os.environ
    params = {"AllowedSenderDomains": env.get("GATEHOUSE_ALLOWED_SENDER_DOMAINS", ""), "SenderEmail": env.get("GATEHOUSE_SENDER", "")}
    secret_ids = {s for s in (env.get("GATEHOUSE_TOKEN_SECRET_ARN"), "gatehouse/token-secret") if s}
    denied, unused = check(load_template(Path(args.template)), calls, params, env.get("GATEHOUSE_TABLE", "gatehouse"), secret_ids)
    functions = sorted({c["function"] for c in calls} - NOT_FUNCTIONS)
    counted = [c for c in calls if c["function"] not in NOT_FUNCTIONS]
    print(f"{sum(c.get('count', 1) for c in counted)} calls of {len(functions)} functions ({', '.join(functions)}), "
          f"{len(counted)} distinct (function, action, resource)")
    for line in unused:
        print(f"granted but never used: {line}")
    for line in denied:
        print(f"DENIED {line}", file=sys.stderr)
    if denied:
        return 1
    print("every call is allowed by its function's policy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
