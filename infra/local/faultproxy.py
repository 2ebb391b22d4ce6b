#!/usr/bin/env python3
"""A transparent HTTP proxy in front of moto that can inject faults, for the local stack.

The functions talk to AWS through it (their AWS_ENDPOINT_URL); the stream pump and the ops
tooling talk to moto directly. Faults are switched on and off over HTTP:

    POST   /__faults  {"service": "dynamodb"|"ses"|"secretsmanager", "status": 500,
                       "code": "ThrottlingException", "count": 3,   # the next 3 calls (omit: until cleared)
                       "match": "jane@example.com"}                # only calls whose body contains it
    GET    /__faults  -> {"faults": [...], "counts": {"dynamodb": n, "ses": n, "dynamodbstreams": n},
                          "returned": {"<function>": items}}   # items Query/Scan/BatchGetItem answered
    DELETE /__faults  -> clears every fault
    GET    /__calls   -> [{"function", "service", "action", "resource", "from", "count"}, ...]

Services are told apart as the SDKs address them: DynamoDB by `X-Amz-Target: DynamoDB_20120810.*`,
DynamoDB Streams by `DynamoDBStreams_20120810.*`, Secrets Manager by `secretsmanager.*`, SES v2
by paths under `/v2/email/`.

Every call is also recorded as (function, service, IAM action, resource): the functions name
themselves in the SDK user agent (`app/gatehouse-<function>`), a TransactWriteItems counts as
the Put/Update/Delete/ConditionCheck actions IAM authorises it by, a Query or Scan names its
index. `infra/local/iam_check.py` compares the record with each function's policy.

    python infra/local/faultproxy.py --listen 4567 --upstream http://127.0.0.1:4566
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_LOCK = threading.Lock()
_FAULTS: list[dict] = []
_COUNTS: dict[str, int] = {}
_CALLS: dict[tuple, int] = {}
_RETURNED: dict[str, int] = {}
_UPSTREAM: urllib.parse.SplitResult
SERVICES = ("dynamodb", "ses", "dynamodbstreams", "secretsmanager")
_APP = re.compile(r"(?:^|\s)app/gatehouse-([A-Za-z0-9_.-]+)")
_TRANSACT_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}


def service_of(path: str, headers) -> str:
    target = headers.get("X-Amz-Target", "")
    if target.startswith("DynamoDBStreams_"):
        return "dynamodbstreams"
    if target.startswith("DynamoDB_"):
        return "dynamodb"
    if target.startswith("secretsmanager."):
        return "secretsmanager"
    if target.startswith("TrentService."):
        return "kms"
    if path.startswith("/v2/email"):
        return "ses"
    if target.startswith("AmazonSQS."):
        return "sqs"
    return "other"


def function_of(headers) -> str | None:
    """The Gatehouse function that made the call, from its SDK user agent."""
    for name in ("x-amz-user-agent", "User-Agent"):
        m = _APP.search(headers.get(name, ""))
        if m:
            return m.group(1)
    return None


def actions_of(service: str, method: str, path: str, headers, body: bytes) -> list[tuple[str, str, str | None]]:
    """(IAM action, resource, From address) for each permission one call needs."""
    try:
        doc = json.loads(body or b"{}")
    except ValueError:
        doc = {}
    if not isinstance(doc, dict):
        doc = {}
    if service in ("dynamodb", "dynamodbstreams", "secretsmanager"):
        op = headers.get("X-Amz-Target", "").split(".", 1)[-1]
        if service == "secretsmanager":
            return [(f"secretsmanager:{op}", f"secret/{doc.get('SecretId', '')}", None)]
        if op == "TransactWriteItems":
            out = []
            for item in doc.get("TransactItems", []):
                for kind, spec in item.items():
                    out.append((f"dynamodb:{_TRANSACT_ACTIONS.get(kind, kind)}", f"table/{spec.get('TableName', '')}", None))
            return out
        if op in ("BatchGetItem", "BatchWriteItem"):
            return [(f"dynamodb:{op}", f"table/{t}", None) for t in doc.get("RequestItems", {})] or [(f"dynamodb:{op}", "table/", None)]
        resource = f"table/{doc.get('TableName', '')}"
        if doc.get("IndexName"):
            resource += f"/index/{doc['IndexName']}"
        return [(f"{service}:{op}", resource, None)]
    if service == "kms":
        # The third field carries the encryption context's keys (the policy's condition).
        op = headers.get("X-Amz-Target", "").split(".", 1)[-1]
        context = doc.get("EncryptionContext") or {}
        return [(f"kms:{op}", f"key/{doc.get('KeyId', '')}", "ctx:" + ",".join(sorted(context)))]
    if service == "ses":
        if method == "POST" and path.rstrip("/").endswith("/outbound-emails"):
            return [("ses:SendEmail", "identity/*", doc.get("FromEmailAddress"))]
        return [(f"ses:{method} {path.split('?')[0]}", "identity/*", None)]
    if service == "sqs":  # the AWS JSON protocol; local queues are named after their logical ids
        op = headers.get("X-Amz-Target", "").split(".", 1)[-1]
        return [(f"sqs:{op}", f"queue/{str(doc.get('QueueUrl', '')).rstrip('/').rpartition('/')[2]}", None)]
    return []


def record(service: str, method: str, path: str, headers, body: bytes) -> None:
    function = function_of(headers)
    if function is None:
        return  # the pump, the ops tooling and the tests reach moto too; only functions count
    with _LOCK:
        for action, resource, sender in actions_of(service, method, path, headers, body):
            key = (function, service, action, resource, sender)
            _CALLS[key] = _CALLS.get(key, 0) + 1


def count_returned(headers, data: bytes) -> None:
    """Adds the items a Query, Scan or BatchGetItem answered to its function's tally (tests use
    it to see that a page reads only what it returns)."""
    function = function_of(headers)
    if function is None or headers.get("X-Amz-Target", "").split(".", 1)[-1] not in ("Query", "Scan", "BatchGetItem"):
        return
    try:
        doc = json.loads(data or b"{}")
    except ValueError:
        return
    n = len(doc.get("Items") or []) + sum(len(v) for v in (doc.get("Responses") or {}).values())
    with _LOCK:
        _RETURNED[function] = _RETURNED.get(function, 0) + n


def calls() -> list[dict]:
    with _LOCK:
        return [
            {"function": f, "service": s, "action": a, "resource": r, "from": sender, "count": n}
            for (f, s, a, r, sender), n in sorted(_CALLS.items(), key=lambda kv: tuple(str(x) for x in kv[0]))
        ]


def take_fault(service: str, body: bytes = b"") -> dict | None:
    with _LOCK:
        _COUNTS[service] = _COUNTS.get(service, 0) + 1
        for fault in _FAULTS:
            if fault.get("service") == service and fault.get("match", "").encode() in body:
                if "count" in fault:
                    fault["count"] -= 1
                    if fault["count"] <= 0:
                        _FAULTS.remove(fault)
                return dict(fault)
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The reply goes out as two writes (headers, then body): with Nagle's algorithm the body
    # waited for the client's delayed ACK, 40 ms on every proxied call (measured: a GetItem
    # 2.7 ms from moto, 48 ms through this proxy).
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):  # quiet: the functions log what matters
        pass

    def _body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _control(self, method: str) -> None:
        body = self._body()
        with _LOCK:
            if method == "POST":
                fault = json.loads(body or b"{}")
                if fault.get("service") not in SERVICES:
                    return self._reply(400, json.dumps({"error": f"service must be one of {', '.join(SERVICES)}"}).encode(), {"Content-Type": "application/json"})
                fault.setdefault("status", 500)
                _FAULTS.append(fault)
            elif method == "DELETE":
                _FAULTS.clear()
            out = json.dumps({"faults": _FAULTS, "counts": _COUNTS, "returned": _RETURNED}).encode()
        self._reply(200, out, {"Content-Type": "application/json"})

    def _proxy(self, method: str) -> None:
        if self.path.startswith("/__faults"):
            return self._control(method)
        if self.path.startswith("/__calls"):
            self._body()
            return self._reply(200, json.dumps(calls()).encode(), {"Content-Type": "application/json"})
        body = self._body()
        service = service_of(self.path, self.headers)
        record(service, method, self.path, self.headers, body)
        fault = take_fault(service, body)
        if fault:
            status = int(fault.get("status", 500))
            if service == "ses":
                payload = json.dumps({"message": fault.get("message", "injected fault")}).encode()
                return self._reply(status, payload, {"Content-Type": "application/json", "x-amzn-ErrorType": fault.get("code", "InternalFailure")})
            code = fault.get("code", "InternalServerError")
            if service == "secretsmanager":
                payload = json.dumps({"__type": code, "message": "injected fault"}).encode()
                return self._reply(status, payload, {"Content-Type": "application/x-amz-json-1.1"})
            payload = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "injected fault"}).encode()
            return self._reply(status, payload, {"Content-Type": "application/x-amz-json-1.0"})
        conn = http.client.HTTPConnection(_UPSTREAM.hostname, _UPSTREAM.port, timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive", "transfer-encoding")}
            conn.request(method, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            if service == "dynamodb":
                count_returned(self.headers, data)
            out_headers = {k: v for k, v in resp.getheaders() if k.lower() not in ("connection", "keep-alive", "transfer-encoding", "content-length")}
            self._reply(resp.status, data, out_headers)
        except OSError as e:
            self._reply(502, json.dumps({"message": f"upstream unavailable: {e}"}).encode(), {"Content-Type": "application/json"})
        finally:
            conn.close()

    def do_GET(self):
        self._proxy("GET")

    def do_POST(self):
        self._proxy("POST")

    def do_PUT(self):
        self._proxy("PUT")

    def do_DELETE(self):
        self._proxy("DELETE")

    def do_PATCH(self):
        self._proxy("PATCH")


def main() -> None:
    global _UPSTREAM
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", type=int, default=4567)
    parser.add_argument("--upstream", default="http://127.0.0.1:4566")
    args = parser.parse_args()
    _UPSTREAM = urllib.parse.urlsplit(args.upstream)
    server = ThreadingHTTPServer(("127.0.0.1", args.listen), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
