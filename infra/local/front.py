#!/usr/bin/env python3
"""The local stack's API Gateway: an HTTP API (payload format 2.0) in front of the functions.

Routes, stage variables and Lambda authorizers come from `template.yaml` (via
`infra/local/template.py`), so the local stack answers like the deployed one:

* **Throttling** per route (the API's `DefaultRouteSettings` / `RouteSettings`: a token bucket
  of `ThrottlingBurstLimit` refilled at `ThrottlingRateLimit` per second): 429
  `{"message":"Too Many Requests"}` beyond.
* **Routing** as HTTP APIs do: the most specific route whose method and path match (static
  segments before `{param}`, before `{greedy+}`); anything else goes to the `$default` route
  (the `fallback` function: 404 / 405 problems); without one, API Gateway's 404
  `{"message":"Not Found"}`.
* **The event** API Gateway builds: `version`, `routeKey`, `rawPath`, `rawQueryString`,
  `cookies`, headers lower-cased (repeats joined by commas), `queryStringParameters`,
  `pathParameters`, `stageVariables`, `requestContext` (`http.method`/`path`/`protocol`/
  `sourceIp` = the TCP peer/`userAgent`, `requestId`, `time`, `timeEpoch`, stage `$default`),
  and the body: as text only for `text/*`, `application/json`, `application/xml` and
  `application/javascript` bodies that are valid UTF-8, otherwise base64 with
  `isBase64Encoded: true`.
* **Invocation** through `cargo lambda watch`'s invoke endpoint
  (`POST {lambda}/2015-03-31/functions/{name}/invocations`); inline Python functions of the
  template (the example backend) run in this process.
* **The response** as API Gateway maps a 2.0 answer: `statusCode`, `headers`, `cookies` (one
  `Set-Cookie` each), `body` (decoded when `isBase64Encoded`); `multiValueHeaders` is ignored
  (2.0 has none); an answer without `statusCode` is a 200 `application/json` whose body is the
  answer; a function error or a malformed answer is 500 `{"message":"Internal Server Error"}`;
  no answer within the integration timeout (30 s) is 503 `{"message":"Service Unavailable"}`.
* **Lambda authorizers** on the routes that name one: every identity source present and
  non-empty (else 401 `{"message":"Unauthorized"}` without calling it), the decision cached per
  identity-source values for the template's TTL, simple responses (`isAuthorized`, `context` ->
  `requestContext.authorizer.lambda`) or IAM policies, 403 `{"message":"Forbidden"}` on deny.

Only the local stack may shift the authorizer cache's clock (`--allow-clock-offset`: a request's
`x-gatehouse-clock-offset: <seconds>` header, as the functions honour it), so tests need not sleep.

    python3 infra/local/front.py --port 9000 --lambda-url http://127.0.0.1:9002
    python3 infra/local/front.py --authorizer-ttl 'GET /example/orders'   # prints the TTL

Standard library and PyYAML only.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import fnmatch
import http.client
import json
import logging
import os
import secrets
import signal
import sys
import threading
import time
import types
import urllib.parse
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from infra.local.template import DEFAULT_ROUTE, Authorizer, Function, Route, Template, parse_overrides  # noqa: E402

log = logging.getLogger("front")

ACCOUNT_ID = "123456789012"
REGION = os.environ.get("AWS_REGION", "us-east-1")
MAX_BODY = 10 * 1024 * 1024  # HTTP API payload quota
MAX_EVENT = 6 * 1024 * 1024  # Lambda's synchronous invocation payload quota
TEXT_TYPES = ("application/json", "application/xml", "application/javascript")
CLOCK_HEADER = "x-gatehouse-clock-offset"


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @classmethod
    def message(cls, status: int, text: str) -> "Reply":
        """One of API Gateway's own answers: `{"message": "..."}`."""
        return cls(status, [("Content-Type", "application/json")], json.dumps({"message": text}).encode())


def internal_error() -> Reply:
    return Reply.message(500, "Internal Server Error")


@dataclass
class Incoming:
    method: str
    target: str  # request target as sent: /path?query
    headers: list[tuple[str, str]]  # as received, in order
    body: bytes
    peer: str
    protocol: str = "HTTP/1.1"


class FunctionError(Exception):
    """The function failed (unhandled error, crash) or could not be invoked."""


class IntegrationTimeout(Exception):
    """No answer within the integration timeout."""


# ------------------------------------------------------------------------------- invokers


class WatchInvoker:
    """Invokes a function through `cargo lambda watch`'s Lambda invoke endpoint."""

    def __init__(self, lambda_url: str, timeout: float):
        u = urllib.parse.urlsplit(lambda_url)
        self.host, self.port, self.timeout = u.hostname or "127.0.0.1", u.port or 80, timeout

    def __call__(self, fn: Function, event: dict) -> bytes:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.request("POST", f"/2015-03-31/functions/{urllib.parse.quote(fn.name, safe='')}/invocations",
                         body=json.dumps(event).encode(), headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            payload = resp.read()
        except TimeoutError as e:
            raise IntegrationTimeout(fn.name) from e
        except (OSError, http.client.HTTPException) as e:
            raise FunctionError(f"{fn.name}: invoke failed: {e}") from e
        finally:
            conn.close()
        if resp.status != 200 or resp.getheader("X-Amz-Function-Error"):
            try:  # the error's type only: its message could quote the request
                kind = json.loads(payload).get("errorType")
            except (ValueError, AttributeError):
                kind = None
            raise FunctionError(f"{fn.name}: invoke answered {resp.status} ({kind or 'no error type'})")
        return payload


class InlinePython:
    """Runs a template function's `InlineCode` (Python) in this process, as Lambda would run
    `index.handler`: module loaded once, handler called per event, its value JSON-encoded."""

    def __init__(self, fn: Function):
        self.fn = fn
        module_name, _, self.handler_name = fn.handler.rpartition(".")
        self.module = types.ModuleType(module_name or "index")
        exec(compile(fn.inline_code, f"<{fn.logical_id} inline code>", "exec"), self.module.__dict__)  # noqa: S102

    def __call__(self, event: dict) -> bytes:
        deadline = time.monotonic() + self.fn.timeout
        context = types.SimpleNamespace(
            function_name=self.fn.logical_id, function_version="$LATEST", memory_limit_in_mb=self.fn.memory,
            invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.fn.logical_id}",
            aws_request_id=secrets.token_hex(16), log_group_name=f"/aws/lambda/{self.fn.logical_id}",
            get_remaining_time_in_millis=lambda: max(0, int((deadline - time.monotonic()) * 1000)))
        try:
            return json.dumps(getattr(self.module, self.handler_name)(event, context)).encode()
        except Exception as e:  # an unhandled error of the function
            raise FunctionError(f"{self.fn.logical_id}: {type(e).__name__}") from e


# ------------------------------------------------------------------------------- the API


def segment_rank(segment: str) -> int:
    if segment.startswith("{") and segment.endswith("+}"):
        return 2
    return 1 if segment.startswith("{") and segment.endswith("}") else 0


def match_path(template: str, raw_path: str) -> dict[str, str] | None:
    """Path parameters (URL-decoded) when `raw_path` fits `template`, else None."""
    want, got = template.split("/"), raw_path.split("/")
    params = {}
    for i, w in enumerate(want):
        rank = segment_rank(w)
        if rank == 2:
            rest = got[i:]
            if not rest or not rest[0]:
                return None
            params[w[1:-2]] = urllib.parse.unquote("/".join(rest))
            return params
        if i >= len(got):
            return None
        if rank == 1:
            if not got[i]:
                return None
            params[w[1:-1]] = urllib.parse.unquote(got[i])
        elif w != got[i]:
            return None
    return params if len(want) == len(got) else None


def body_is_text(content_type: str | None, body: bytes) -> bool:
    mime = (content_type or "").split(";", 1)[0].strip().lower()
    if not (mime.startswith("text/") or mime in TEXT_TYPES):
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def wire(text: str) -> str:
    """http.server decodes the request line and headers as Latin-1; recover the bytes sent and
    read them as UTF-8 (what API Gateway hands on), replacing what is not."""
    try:
        return text.encode("latin-1").decode("utf-8", errors="replace")
    except UnicodeEncodeError:
        return text


def request_id() -> str:
    # API Gateway's ids look like `JZvQrgdzoAMEJrA=`: 10 random bytes, base64.
    return base64.b64encode(secrets.token_bytes(10)).decode()


class TokenBucket:
    """API Gateway's throttle: `burst` requests at once, refilled at `rate` per second."""

    def __init__(self, rate: float, burst: int):
        self.rate, self.burst = float(rate), int(burst)
        self.tokens, self.at = float(burst), time.monotonic()
        self.lock = threading.Lock()

    def take(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self.lock:
            self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
            self.at = now
            if self.tokens < 1:
                return False
            self.tokens -= 1
            return True


class Front:
    def __init__(self, template: Template, invoke: Callable[[Function, dict], bytes], *,
                 allow_clock_offset: bool = False, domain: str = "127.0.0.1", port: int = 9000):
        apis = template.http_apis()
        if len(apis) != 1:
            raise SystemExit(f"front: expected one AWS::Serverless::HttpApi in the template, found {apis}")
        self.api = apis[0]
        self.stage = template.stage_name(self.api)
        self.stage_variables = template.stage_variables(self.api)
        self.functions = template.functions()
        self.routes = template.routes(self.api)
        self.authorizers = template.authorizers(self.api)
        self.default_route = next((r for r in self.routes if r.path == DEFAULT_ROUTE), None)
        self.invoke_remote = invoke
        self.inline = {lid: InlinePython(fn) for lid, fn in self.functions.items() if fn.inline_code and fn.runtime.startswith("python")}
        self.allow_clock_offset = allow_clock_offset
        self.domain, self.port = domain, port
        self.cache: dict[tuple, tuple[float, bool, Any]] = {}
        self.cache_lock = threading.Lock()
        default, per_route = template.throttling(self.api)
        self.buckets: dict[str, TokenBucket] = {}
        for route in self.routes:
            limits = {**(default or {}), **(per_route.get(route.key) or {})}
            if "ThrottlingRateLimit" in limits or "ThrottlingBurstLimit" in limits:
                rate = float(limits.get("ThrottlingRateLimit", 10000))
                self.buckets[route.key] = TokenBucket(rate, int(limits.get("ThrottlingBurstLimit", max(1, rate))))

    # ---------------------------------------------------------------- routing

    def route_for(self, method: str, raw_path: str) -> tuple[Route, dict[str, str]] | None:
        best = None
        for route in self.routes:
            if route.path == DEFAULT_ROUTE or route.method not in (method, "ANY"):
                continue
            params = match_path(route.path, raw_path)
            if params is None:
                continue
            rank = (tuple(segment_rank(s) for s in route.path.split("/")), route.method == "ANY")
            if best is None or rank < best[0]:
                best = (rank, route, params)
        if best:
            return best[1], best[2]
        return (self.default_route, {}) if self.default_route else None

    def invoke(self, logical_id: str, event: dict) -> bytes:
        if logical_id in self.inline:
            return self.inline[logical_id](event)
        fn = self.functions.get(logical_id)
        if fn is None:
            raise FunctionError(f"{logical_id} is not a function of the template")
        return self.invoke_remote(fn, event)

    # ---------------------------------------------------------------- the event

    def event(self, req: Incoming, route: Route, params: dict[str, str], rid: str, now: float) -> dict:
        path, _, query = req.target.partition("?")
        headers: dict[str, str] = {}
        cookies: list[str] = []
        for name, value in req.headers:
            name = name.lower()
            if name == "cookie":
                cookies += [c.strip() for c in value.split(";") if c.strip()]
                continue
            headers[name] = f"{headers[name]},{value}" if name in headers else value
        forwarded = headers.get("x-forwarded-for")
        headers["x-forwarded-for"] = f"{forwarded}, {req.peer}" if forwarded else req.peer
        headers["x-forwarded-port"] = str(self.port)
        headers["x-forwarded-proto"] = "http"
        headers.setdefault("x-amzn-trace-id", f"Root=1-{int(now):08x}-{secrets.token_hex(12)}")
        qs: dict[str, str] = {}
        for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True):
            qs[k] = f"{qs[k]},{v}" if k in qs else v
        host = headers.get("host", f"{self.domain}:{self.port}")
        context = {
            "accountId": ACCOUNT_ID,
            "apiId": "local",
            "domainName": host,
            "domainPrefix": host.split(".", 1)[0].split(":", 1)[0],
            "http": {"method": req.method, "path": path, "protocol": req.protocol, "sourceIp": req.peer,
                     "userAgent": headers.get("user-agent", "")},
            "requestId": rid,
            "routeKey": route.key,
            "stage": self.stage,
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        }
        event: dict[str, Any] = {"version": "2.0", "routeKey": route.key, "rawPath": path, "rawQueryString": query}
        if cookies:
            event["cookies"] = cookies
        event["headers"] = headers
        if qs:
            event["queryStringParameters"] = qs
        event["requestContext"] = context
        if params:
            event["pathParameters"] = params
        if self.stage_variables:
            event["stageVariables"] = dict(self.stage_variables)
        if req.body:
            if body_is_text(headers.get("content-type"), req.body):
                event["body"], event["isBase64Encoded"] = req.body.decode("utf-8"), False
            else:
                event["body"], event["isBase64Encoded"] = base64.b64encode(req.body).decode("ascii"), True
        else:
            event["isBase64Encoded"] = False
        return event

    # ---------------------------------------------------------------- the authorizer

    def identity(self, auth: Authorizer, event: dict) -> list[str] | None:
        """The identity-source values in order, or None when one is missing or empty."""
        ctx = event["requestContext"]
        context_values = {
            "routeKey": ctx["routeKey"], "httpMethod": ctx["http"]["method"], "path": ctx["http"]["path"],
            "stage": ctx["stage"], "requestId": ctx["requestId"], "apiId": ctx["apiId"],
            "domainName": ctx["domainName"], "identity.sourceIp": ctx["http"]["sourceIp"],
            "identity.userAgent": ctx["http"]["userAgent"], "protocol": ctx["http"]["protocol"],
        }
        values = []
        for source in auth.identity_sources:
            if source.startswith("$request.header."):
                v = event["headers"].get(source[len("$request.header."):].lower())
            elif source.startswith("$request.querystring."):
                v = (event.get("queryStringParameters") or {}).get(source[len("$request.querystring."):])
            elif source.startswith("$stageVariables."):
                v = (event.get("stageVariables") or {}).get(source[len("$stageVariables."):])
            elif source.startswith("$context."):
                v = context_values.get(source[len("$context."):])
            else:
                v = None
            if v is None or str(v).strip() == "":
                return None
            values.append(str(v))
        return values

    def authorizer_event(self, auth: Authorizer, event: dict, identity: list[str]) -> dict:
        ctx = event["requestContext"]
        arn = f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{ctx['apiId']}/{ctx['stage']}/{ctx['http']['method']}{event['rawPath']}"
        if auth.payload_version == "1.0":
            return {"version": "1.0", "type": "REQUEST", "methodArn": arn, "identitySource": ",".join(identity),
                    "authorizationToken": identity[0] if identity else "", "resource": event["routeKey"],
                    "path": event["rawPath"], "httpMethod": ctx["http"]["method"], "headers": event["headers"],
                    "queryStringParameters": event.get("queryStringParameters") or {},
                    "pathParameters": event.get("pathParameters") or {},
                    "stageVariables": event.get("stageVariables") or {}, "requestContext": ctx}
        out = {"version": "2.0", "type": "REQUEST", "routeArn": arn, "identitySource": identity,
               "routeKey": event["routeKey"], "rawPath": event["rawPath"], "rawQueryString": event["rawQueryString"]}
        for key in ("cookies", "headers", "queryStringParameters", "requestContext", "pathParameters", "stageVariables"):
            if key in event:
                out[key] = event[key]
        return out

    @staticmethod
    def decision(auth: Authorizer, answer: Any, arn: str) -> tuple[bool, Any]:
        """(allowed, context) from the authorizer's answer; ValueError when it is malformed."""
        if not isinstance(answer, dict):
            raise ValueError("the authorizer answered no object")
        if auth.simple_responses:
            if not isinstance(answer.get("isAuthorized"), bool):
                raise ValueError("isAuthorized is not a boolean")
            context = answer.get("context")
            return answer["isAuthorized"], context if isinstance(context, dict) else {}
        policy = answer.get("policyDocument")
        if not isinstance(policy, dict) or "principalId" not in answer:
            raise ValueError("no principalId and policyDocument")
        statements = policy.get("Statement") or []
        statements = [statements] if isinstance(statements, dict) else statements

        def covers(s: dict) -> bool:
            actions = s.get("Action") or []
            resources = s.get("Resource") or []
            actions = [actions] if isinstance(actions, str) else actions
            resources = [resources] if isinstance(resources, str) else resources
            return any(fnmatch.fnmatchcase("execute-api:Invoke", a) for a in actions) and any(
                fnmatch.fnmatchcase(arn, r) for r in resources)

        effects = [str(s.get("Effect", "")).lower() for s in statements if isinstance(s, dict) and covers(s)]
        context = answer.get("context")
        context = dict(context) if isinstance(context, dict) else {}
        context["principalId"] = answer["principalId"]
        return ("allow" in effects and "deny" not in effects), context

    def authorize(self, route: Route, event: dict, clock: float) -> Reply | None:
        """Runs the route's authorizer: None to go on (the event then carries its context), or
        API Gateway's own answer."""
        auth = self.authorizers.get(route.authorizer or "")
        if auth is None:
            log.error("route %s names the unknown authorizer %s", route.key, route.authorizer)
            return internal_error()
        identity = self.identity(auth, event)
        if identity is None:
            return Reply.message(401, "Unauthorized")
        key = (auth.name, tuple(identity))
        cached = None
        if auth.ttl_seconds > 0 and auth.identity_sources:
            with self.cache_lock:
                cached = self.cache.get(key)
                if cached and cached[0] <= clock:
                    del self.cache[key]
                    cached = None
        if cached:
            allowed, context = cached[1], cached[2]
        else:
            auth_event = self.authorizer_event(auth, event, identity)
            try:
                answer = json.loads(self.invoke(auth.function, auth_event))
                allowed, context = self.decision(auth, answer, auth_event.get("routeArn") or auth_event["methodArn"])
            except (FunctionError, IntegrationTimeout, ValueError) as e:
                log.error("authorizer %s failed: %s", auth.name, e)
                return internal_error()
            if auth.ttl_seconds > 0 and auth.identity_sources:
                with self.cache_lock:
                    self.cache[key] = (clock + auth.ttl_seconds, allowed, context)
        if not allowed:
            return Reply.message(403, "Forbidden")
        event["requestContext"]["authorizer"] = {"lambda": context}
        return None

    # ---------------------------------------------------------------- the response

    @staticmethod
    def response(payload: bytes) -> Reply:
        """Maps a payload-2.0 answer to HTTP as API Gateway does."""
        try:
            answer = json.loads(payload)
        except ValueError:
            return internal_error()
        if not (isinstance(answer, dict) and "statusCode" in answer):
            return Reply(200, [("Content-Type", "application/json")], payload)
        status = answer.get("statusCode")
        if isinstance(status, str) and status.isdigit():
            status = int(status)
        if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
            return internal_error()
        headers_in = answer.get("headers") or {}
        cookies = answer.get("cookies") or []
        body = answer.get("body")
        if not isinstance(headers_in, dict) or not isinstance(cookies, list) or not (body is None or isinstance(body, str)):
            return internal_error()
        headers = []
        for name, value in headers_in.items():
            if isinstance(value, bool):
                value = "true" if value else "false"
            if name.lower() in ("content-length", "transfer-encoding", "connection") or isinstance(value, (dict, list)) or value is None:
                continue
            headers.append((str(name), str(value)))
        headers += [("Set-Cookie", str(c)) for c in cookies]
        # `multiValueHeaders` belongs to payload 1.0: API Gateway ignores it in a 2.0 answer.
        data = (body or "").encode("utf-8")
        if answer.get("isBase64Encoded") is True and body:
            try:
                data = base64.b64decode(body, validate=True)
            except (binascii.Error, ValueError):
                return internal_error()
        return Reply(status, headers, data)

    # ---------------------------------------------------------------- one request

    def handle(self, req: Incoming) -> tuple[Reply, str, str]:
        """(reply, route key, request id) for one request."""
        rid = request_id()
        now = time.time()
        path = req.target.partition("?")[0]
        if len(req.body) > MAX_BODY:
            return Reply.message(413, "Request Entity Too Large"), "-", rid
        found = self.route_for(req.method, path)
        if found is None:
            return Reply.message(404, "Not Found"), "-", rid
        route, params = found
        bucket = self.buckets.get(route.key)
        if bucket is not None and not bucket.take():
            return Reply.message(429, "Too Many Requests"), route.key, rid
        event = self.event(req, route, params, rid, now)
        if route.authorizer:
            clock = time.monotonic()
            if self.allow_clock_offset:
                try:
                    clock += float(event["headers"].get(CLOCK_HEADER, "0"))
                except ValueError:
                    pass
            denied = self.authorize(route, event, clock)
            if denied is not None:
                return denied, route.key, rid
        data = json.dumps(event).encode()
        if len(data) > MAX_EVENT:
            return Reply.message(413, "Request Entity Too Large"), route.key, rid
        try:
            reply = self.response(self.invoke(route.function, event))
        except IntegrationTimeout:
            reply = Reply.message(503, "Service Unavailable")
        except FunctionError as e:
            log.error("%s %s: %s", route.key, rid, e)
            reply = internal_error()
        return reply, route.key, rid


# ------------------------------------------------------------------------------- HTTP server


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body are two writes: without this the body waits for the client's delayed
    # ACK (40 ms) on a kept-alive connection, as it did in faultproxy.py.
    disable_nagle_algorithm = True
    server_version = "gatehouse-front"
    sys_version = ""
    front: Front  # set on the subclass made in serve()

    def handle_one_request(self):
        """Like the standard library's, for every method (API Gateway routes them all)."""
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if len(self.raw_requestline) > 65536:
                self.send_error(414)
                return
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():
                return
            self.dispatch()
            self.wfile.flush()
        except TimeoutError:
            self.close_connection = True

    def read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY:
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        if length > MAX_BODY:
            return None
        return self.rfile.read(length) if length else b""

    def dispatch(self):
        started = time.monotonic()
        try:
            body = self.read_body()
        except ValueError:
            self.close_connection = True
            self.send(Reply.message(400, "Bad Request"), request_id())
            return
        if body is None:
            self.close_connection = True
            reply, key, rid = Reply.message(413, "Request Entity Too Large"), "-", request_id()
        else:
            headers = [(name, wire(value)) for name, value in self.headers.items()]
            target = wire(self.path)
            if not target.startswith("/"):  # absolute form: http://host/path?query
                parts = urllib.parse.urlsplit(target)
                target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            req = Incoming(self.command, target, headers, body, self.client_address[0], self.request_version)
            try:
                reply, key, rid = self.front.handle(req)
            except Exception:  # a defect here must still answer like API Gateway
                log.exception("front failed")
                reply, key, rid = internal_error(), "-", request_id()
        self.send(reply, rid)
        # Like an access log: never the query string, headers or bodies (they carry secrets).
        log.info("%s %s %s %d %dms %s", self.command, self.path.partition("?")[0][:200], key, reply.status,
                 (time.monotonic() - started) * 1000, rid)

    def send(self, reply: Reply, rid: str):
        self.send_response_only(reply.status)
        self.send_header("Date", formatdate(usegmt=True))
        for name, value in reply.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.send_header("apigw-requestid", rid)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and reply.body:
            self.wfile.write(reply.body)

    def log_message(self, fmt, *args):  # the access line above is enough
        pass


def serve(front: Front, host: str, port: int) -> ThreadingHTTPServer:
    handler = type("BoundHandler", (Handler,), {"front": front})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def main(argv: list[str] | None = None) -> int:
    env = os.environ.get
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default=env("GATEHOUSE_FRONT_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(env("GATEHOUSE_FRONT_PORT", "9000")))
    p.add_argument("--lambda-url", default=env("GATEHOUSE_LAMBDA_URL", "http://127.0.0.1:9002"),
                   help="cargo lambda watch's invoke endpoint [GATEHOUSE_LAMBDA_URL]")
    p.add_argument("--template", default=None, help="the SAM template [template.yaml]")
    p.add_argument("--parameter-overrides", default=env("GATEHOUSE_PARAMETER_OVERRIDES", ""),
                   help="Key=Value pairs for the template's parameters [GATEHOUSE_PARAMETER_OVERRIDES]")
    p.add_argument("--integration-timeout", type=float, default=float(env("GATEHOUSE_INTEGRATION_TIMEOUT", "30")),
                   help="seconds API Gateway waits for a function (30 at most on AWS)")
    p.add_argument("--allow-clock-offset", action="store_true",
                   help=f"honour {CLOCK_HEADER} in the authorizer cache (local tests only)")
    p.add_argument("--authorizer-ttl", metavar="ROUTE_KEY", help="print the cache TTL of the authorizer of this route and exit")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stdout)
    from infra.local.template import load

    template = Template(load(Path(a.template)) if a.template else None, parse_overrides(a.parameter_overrides))
    front = Front(template, WatchInvoker(a.lambda_url, a.integration_timeout),
                  allow_clock_offset=a.allow_clock_offset, domain=a.host, port=a.port)
    if a.authorizer_ttl:
        route = next((r for r in front.routes if r.key == a.authorizer_ttl), None)
        if route is None or not route.authorizer:
            p.error(f"{a.authorizer_ttl} is not a route with an authorizer")
        print(front.authorizers[route.authorizer].ttl_seconds)
        return 0
    server = serve(front, a.host, a.port)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    log.info("API Gateway (HTTP API %s, stage %s) on http://%s:%d: %d routes, functions at %s",
             front.api, front.stage, a.host, a.port, len(front.routes), a.lambda_url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
