#!/usr/bin/env python3
"""A transparent HTTP proxy in front of moto that can inject faults, for the local stack.

The functions talk to AWS through it (their AWS_ENDPOINT_URL); the stream pump and the ops
tooling talk to moto directly. Faults are switched on and off over HTTP:

    POST   /__faults  {"service": "dynamodb"|"ses", "status": 500, "code": "ThrottlingException",
                       "count": 3}          # fail the next 3 matching calls (omit count: until cleared)
    GET    /__faults  -> {"faults": [...], "counts": {"dynamodb": n, "ses": n, "dynamodbstreams": n}}
    DELETE /__faults  -> clears every fault

Services are told apart as the SDKs address them: DynamoDB by `X-Amz-Target: DynamoDB_20120810.*`,
DynamoDB Streams by `DynamoDBStreams_20120810.*`, SES v2 by paths under `/v2/email/`.

    python infra/local/faultproxy.py --listen 4567 --upstream http://127.0.0.1:4566
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_LOCK = threading.Lock()
_FAULTS: list[dict] = []
_COUNTS: dict[str, int] = {}
_UPSTREAM: urllib.parse.SplitResult


def service_of(path: str, headers) -> str:
    target = headers.get("X-Amz-Target", "")
    if target.startswith("DynamoDBStreams_"):
        return "dynamodbstreams"
    if target.startswith("DynamoDB_"):
        return "dynamodb"
    if path.startswith("/v2/email"):
        return "ses"
    return "other"


def take_fault(service: str) -> dict | None:
    with _LOCK:
        _COUNTS[service] = _COUNTS.get(service, 0) + 1
        for fault in _FAULTS:
            if fault.get("service") == service:
                if "count" in fault:
                    fault["count"] -= 1
                    if fault["count"] <= 0:
                        _FAULTS.remove(fault)
                return dict(fault)
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

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
                if fault.get("service") not in ("dynamodb", "ses", "dynamodbstreams"):
                    return self._reply(400, b'{"error": "service must be dynamodb, ses or dynamodbstreams"}', {"Content-Type": "application/json"})
                fault.setdefault("status", 500)
                _FAULTS.append(fault)
            elif method == "DELETE":
                _FAULTS.clear()
            out = json.dumps({"faults": _FAULTS, "counts": _COUNTS}).encode()
        self._reply(200, out, {"Content-Type": "application/json"})

    def _proxy(self, method: str) -> None:
        if self.path.startswith("/__faults"):
            return self._control(method)
        body = self._body()
        service = service_of(self.path, self.headers)
        fault = take_fault(service)
        if fault:
            status = int(fault.get("status", 500))
            if service == "ses":
                payload = json.dumps({"message": fault.get("message", "injected fault")}).encode()
                return self._reply(status, payload, {"Content-Type": "application/json", "x-amzn-ErrorType": fault.get("code", "InternalFailure")})
            code = fault.get("code", "InternalServerError")
            payload = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "injected fault"}).encode()
            return self._reply(status, payload, {"Content-Type": "application/x-amz-json-1.0"})
        conn = http.client.HTTPConnection(_UPSTREAM.hostname, _UPSTREAM.port, timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive", "transfer-encoding")}
            conn.request(method, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
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
