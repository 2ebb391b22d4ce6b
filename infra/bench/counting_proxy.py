"""A counting HTTP reverse proxy between the functions and moto.

Point a function's `AWS_ENDPOINT_URL` at `proxy.url`: every AWS call is forwarded unchanged to
the upstream (moto) and recorded with its operation (DynamoDB: the `X-Amz-Target`; SES v2 and
others: method and path), start and end time, and the request and response bodies, under the
label set with `label(...)` (the API operation being measured). `estimate_capacity` turns a
DynamoDB call into estimated read/write units from the item sizes it can see. Stdlib only.
"""

from __future__ import annotations

import base64
import functools
import http.client
import json
import math
import re
import threading
import time
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "content-length"}


@dataclass
class Call:
    label: str | None
    op: str  # e.g. "GetItem", "SES POST /v2/email/outbound-emails"
    service: str  # "dynamodb" | "ses" | other
    start: float
    end: float
    status: int
    raw_request: bytes
    raw_response: bytes
    conn: int = 0  # the client's connection (its source port)

    # The bodies as JSON (None if not JSON), parsed when first asked for: not on the proxy's
    # request path, where the parse costs CPU that the measured calls would wait for.
    @functools.cached_property
    def request(self) -> Any:
        return _maybe_json(self.raw_request)

    @functools.cached_property
    def response(self) -> Any:
        return _maybe_json(self.raw_response)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):  # a client that went away is not news
        pass


class CountingProxy:
    def __init__(self, upstream: str):
        u = urllib.parse.urlsplit(upstream)
        self.up_host, self.up_port = u.hostname, u.port or 80
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        self._label: str | None = None
        # Injected latency per service ("dynamodb", "ses"), seconds, before each call is
        # forwarded: stands in for the real services' round trips (set with `delay(...)`).
        self.delays: dict[str, float] = {}
        proxy = self
        local = threading.local()

        def upstream_conn(fresh: bool = False) -> http.client.HTTPConnection:
            c = getattr(local, "conn", None)
            if c is None or fresh:
                if c is not None:
                    c.close()
                c = http.client.HTTPConnection(proxy.up_host, proxy.up_port, timeout=60)
                local.conn = c
            return c

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # small header and body writes: no 40 ms delayed-ACK stalls

            def log_message(self, *args):
                pass

            def _read_body(self) -> bytes:
                if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                    out = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return out
                        out += self.rfile.read(size)
                        self.rfile.readline()
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def _handle(self):
                label = proxy._label
                start = time.perf_counter()
                body = self._read_body()
                if proxy.delays:
                    t = self.headers.get("X-Amz-Target") or ""
                    svc = "dynamodb" if t.startswith("DynamoDB_") else "ses" if self.path.startswith("/v2/email") else "other"
                    if proxy.delays.get(svc):
                        time.sleep(proxy.delays[svc])
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                headers["Content-Length"] = str(len(body))
                for attempt in (0, 1):  # one reconnect if moto closed the kept-alive connection
                    conn = upstream_conn(fresh=attempt == 1)
                    try:
                        conn.request(self.command, self.path, body=body, headers=headers)
                        resp = conn.getresponse()
                        data = resp.read()
                        break
                    except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                        if attempt == 1:
                            raise
                end = time.perf_counter()
                target = self.headers.get("X-Amz-Target") or ""
                if target.startswith("DynamoDB_"):
                    service, op = "dynamodb", target.split(".", 1)[1]
                elif target.startswith("DynamoDBStreams_"):
                    service, op = "dynamodbstreams", target.split(".", 1)[1]
                elif self.path.startswith("/v2/email"):
                    service = "ses"
                    op = "SendEmail" if self.path.startswith("/v2/email/outbound-emails") else f"{self.command} {self.path.split('?')[0]}"
                else:
                    service, op = "other", f"{self.command} {self.path.split('?')[0]}"
                with proxy._lock:
                    proxy.calls.append(Call(label, op, service, start, end, resp.status, body, data, self.client_address[1]))
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in HOP_BY_HOP:
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if data and self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle

        self._server = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def label(self, name: str | None) -> None:
        self._label = name

    def delay(self, **seconds: float) -> None:
        """Injects latency per service from now on (`delay()` clears it)."""
        self.delays = dict(seconds)

    def take(self, label: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.label == label]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _maybe_json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def sequential_depth(calls: list[Call], tolerance: float = 0.003) -> int:
    """How many calls deep the operation is: the longest chain of calls each made after the
    previous one's answer. A call counts as after another if it started once that one ended,
    on the same connection (one connection carries one request at a time), or on another
    connection at least `tolerance` seconds later: calls made together can reach the proxy's
    threads a few milliseconds apart, and moto answers about as fast. (A call made after
    another's answer mostly reuses that connection: the SDK's pool hands out the most recently
    released one.)"""
    calls = sorted(calls, key=lambda c: c.start)
    depth: list[int] = []
    for i, b in enumerate(calls):
        before = [depth[j] for j in range(i)
                  if calls[j].end <= b.start and (calls[j].conn == b.conn or b.start - calls[j].end >= tolerance)]
        depth.append(1 + max(before or [0]))
    return max(depth or [0])


# ------------------------------------------------------------------ capacity estimate
# DynamoDB item size rules (approximate): attribute names + values; strings and binaries
# by UTF-8/byte length, numbers ~1 byte per 2 significant digits + 1, booleans and nulls
# 1 byte, maps and lists 3 bytes + 1 per element. Reads round up to 4 KB (half for eventually
# consistent), writes to 1 KB, transactions cost double.


def _num_size(n: str) -> int:
    digits = re.sub(r"[^0-9]", "", n.split("e")[0].split("E")[0]).strip("0") or "0"
    return (len(digits) + 1) // 2 + 1


def attr_size(v: dict) -> int:
    (t, x), = v.items()
    if t == "S":
        return len(x.encode())
    if t == "N":
        return _num_size(x)
    if t == "B":
        return len(base64.b64decode(x))
    if t in ("BOOL", "NULL"):
        return 1
    if t == "SS":
        return sum(len(s.encode()) for s in x)
    if t == "NS":
        return sum(_num_size(s) for s in x)
    if t == "BS":
        return sum(len(base64.b64decode(s)) for s in x)
    if t == "M":
        return 3 + sum(len(k.encode()) + attr_size(w) + 1 for k, w in x.items())
    if t == "L":
        return 3 + sum(attr_size(w) + 1 for w in x)
    return 0


def item_size(item: dict | None) -> int:
    return sum(len(k.encode()) + attr_size(v) for k, v in (item or {}).items())


def _rcu(size: int, consistent: bool) -> float:
    return max(1, math.ceil(size / 4096)) * (1.0 if consistent else 0.5)


def _wcu(size: int) -> int:
    return max(1, math.ceil(size / 1024))


def _gsi_writes(item: dict) -> int:
    """Index writes of a Put: one per GSI whose key attributes the item carries (projection
    ALL, so each costs the item's size). Removals from an index the old item was in are not seen."""
    n = 0
    for k in item:
        m = re.fullmatch(r"(gsi\d+)pk", k)
        if m and f"{m.group(1)}sk" in item:
            n += _wcu(item_size(item))
    return n


def estimate_capacity(call: Call) -> tuple[float, float, float]:
    """(read units, table write units, GSI write units) an on-demand table would charge,
    estimated from what the proxy saw."""
    if call.service != "dynamodb" or not isinstance(call.request, dict):
        return 0.0, 0.0, 0.0
    rq, rs = call.request, call.response if isinstance(call.response, dict) else {}
    op = call.op
    if op == "GetItem":
        return _rcu(item_size(rs.get("Item")), bool(rq.get("ConsistentRead"))), 0, 0
    if op in ("Query", "Scan"):
        items = rs.get("Items") or []
        size = sum(item_size(i) for i in items)
        scanned, count = rs.get("ScannedCount", len(items)), rs.get("Count", len(items))
        if scanned > count:  # filtered-out items were read too; assume the average size (1 KB if none)
            size += (scanned - count) * (size // count if count else 1024)
        return _rcu(size, bool(rq.get("ConsistentRead"))), 0, 0
    if op == "BatchGetItem":
        r = 0.0
        for table, spec in (rq.get("RequestItems") or {}).items():
            got = (rs.get("Responses") or {}).get(table) or []
            consistent = bool(spec.get("ConsistentRead"))
            r += sum(_rcu(item_size(i), consistent) for i in got) + max(0, len(spec.get("Keys", [])) - len(got)) * _rcu(0, consistent)
        return r, 0, 0
    if op == "TransactGetItems":
        got = [x.get("Item") for x in rs.get("Responses") or []]
        n = len(rq.get("TransactItems") or [])
        got += [None] * (n - len(got))
        return sum(2 * _rcu(item_size(i), True) for i in got), 0, 0
    if op == "PutItem":
        item = rq.get("Item") or {}
        return 0, _wcu(item_size(item)), _gsi_writes(item)
    if op in ("UpdateItem", "DeleteItem"):
        attrs = rs.get("Attributes")
        return 0, _wcu(item_size(attrs)) if attrs else 1, 0
    if op == "TransactWriteItems":
        w = g = 0
        for entry in rq.get("TransactItems") or []:
            (kind, spec), = entry.items()
            if kind == "Put":
                w += 2 * _wcu(item_size(spec.get("Item")))
                g += _gsi_writes(spec.get("Item") or {})
            else:
                w += 2
        return 0, w, g
    if op == "BatchWriteItem":
        w = g = 0
        for reqs in (rq.get("RequestItems") or {}).values():
            for r in reqs:
                if "PutRequest" in r:
                    item = r["PutRequest"].get("Item") or {}
                    w += _wcu(item_size(item))
                    g += _gsi_writes(item)
                else:
                    w += 1
        return 0, w, g
    return 0, 0, 0
