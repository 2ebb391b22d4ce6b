"""Tests of the local front (infra/local/front.py) against the real template.yaml, with the
functions replaced by recorders: the event API Gateway would build, routing, the response
mapping, the authorizer (identity sources, cache, simple responses) and the HTTP server itself
(any method, binary bodies, HEAD). The integration tests (tests/tests/front.rs) run it in front
of the real functions.

    python3 -m unittest infra/local/test_front.py
"""

from __future__ import annotations

import base64
import copy
import http.client
import json
import logging
import threading
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from infra.local.front import Front, FunctionError, Incoming, IntegrationTimeout, WatchInvoker, serve
from infra.local.template import Template, load, parse_overrides

TEMPLATE = load()
logging.getLogger("front").addHandler(logging.NullHandler())  # the failures these tests provoke
logging.getLogger("front").propagate = False
PORTAL = "6f1c2d3e-0000-4000-8000-000000000001"


def answer(status=200, body="", **extra):
    return json.dumps({"statusCode": status, "body": body, **extra}).encode()


class Recorder:
    """Stands in for cargo lambda watch: records each invocation, answers by function name."""

    def __init__(self):
        self.calls: list[tuple[str, dict]] = []
        self.answers: dict[str, object] = {}

    def __call__(self, fn, event):
        self.calls.append((fn.name, event))
        a = self.answers.get(fn.name, answer(200, "{}", headers={"content-type": "application/json"}))
        if isinstance(a, Exception):
            raise a
        return a(event) if callable(a) else a

    def of(self, name):
        return [e for n, e in self.calls if n == name]


def front(data=None, overrides=None, **kw):
    rec = Recorder()
    return Front(Template(data or TEMPLATE, overrides or {}), rec, **kw), rec


def request(method, target, headers=(), body=b"", peer="198.51.100.7"):
    return Incoming(method, target, list(headers), body, peer)


def message(reply):
    return json.loads(reply.body)["message"]


class EventShape(unittest.TestCase):
    def test_a_request_becomes_the_payload_2_0_event_api_gateway_builds(self):
        f, rec = front({**TEMPLATE}, {"ProtectedPortalId": PORTAL})
        headers = [("Authorization", "Bearer x"), ("X-Custom", "a"), ("x-custom", "b"), ("Cookie", "a=1; b=2"),
                   ("User-Agent", "curl/8"), ("Host", "127.0.0.1:9000")]
        reply, key, rid = f.handle(request("GET", "/api/portals/abc%20d?x=1&x=2&y=&z=%C3%A9", headers))
        self.assertEqual(reply.status, 200)
        self.assertEqual(key, "GET /api/portals/{portal_id}")
        (event,) = rec.of("portals")
        self.assertEqual(event["version"], "2.0")
        self.assertEqual(event["routeKey"], "GET /api/portals/{portal_id}")
        self.assertEqual(event["rawPath"], "/api/portals/abc%20d")
        self.assertEqual(event["rawQueryString"], "x=1&x=2&y=&z=%C3%A9")
        self.assertEqual(event["queryStringParameters"], {"x": "1,2", "y": "", "z": "é"})
        self.assertEqual(event["pathParameters"], {"portal_id": "abc d"})
        self.assertEqual(event["cookies"], ["a=1", "b=2"])
        self.assertNotIn("cookie", event["headers"])
        self.assertEqual(event["headers"]["x-custom"], "a,b")
        self.assertEqual(event["headers"]["authorization"], "Bearer x")
        self.assertEqual(event["headers"]["x-forwarded-for"], "198.51.100.7")
        self.assertTrue(all(k == k.lower() for k in event["headers"]))
        self.assertEqual(event["stageVariables"], {"gatehouse_portal_id": PORTAL})
        self.assertIs(event["isBase64Encoded"], False)
        self.assertNotIn("body", event)
        ctx = event["requestContext"]
        self.assertEqual(ctx["http"], {"method": "GET", "path": "/api/portals/abc%20d", "protocol": "HTTP/1.1",
                                       "sourceIp": "198.51.100.7", "userAgent": "curl/8"})
        self.assertEqual((ctx["stage"], ctx["routeKey"], ctx["requestId"]), ("$default", event["routeKey"], rid))
        self.assertRegex(ctx["time"], r"^\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000$")
        self.assertIsInstance(ctx["timeEpoch"], int)
        self.assertNotIn("authorizer", ctx)
        self.assertNotIn("queryStringParameters", f.event(request("GET", "/api/approvals"), f.routes[0], {}, "r", 0))

    def test_json_and_text_bodies_arrive_as_text_and_anything_else_base64_encoded(self):
        f, rec = front()
        cases = [
            ("application/json", b'{"a": "\xc3\xa9"}', False),
            ("application/json; charset=utf-8", b"{}", False),
            ("text/plain", b"hi", False),
            ("application/json", b'{"a": "\xff\xfe"}', True),  # not UTF-8
            ("application/octet-stream", b"\x00\x01", True),
            ("application/x-www-form-urlencoded", b"a=1", True),
            (None, b"{}", True),
        ]
        for content_type, body, encoded in cases:
            with self.subTest(content_type=content_type, body=body):
                headers = [("Content-Type", content_type)] if content_type else []
                f.handle(request("POST", f"/api/portals/{PORTAL}/register", headers, body))
                event = rec.of("registration")[-1]
                self.assertIs(event["isBase64Encoded"], encoded)
                sent = base64.b64decode(event["body"]) if encoded else event["body"].encode()
                self.assertEqual(sent, body)


class Functions(unittest.TestCase):
    def test_every_function_of_the_template_is_a_workspace_binary_or_inline_python(self):
        import tomllib
        from pathlib import Path

        root = Path(__file__).resolve().parents[2]
        members = tomllib.loads((root / "Cargo.toml").read_text())["workspace"]["members"]
        binaries = set()
        for member in members:
            manifest = tomllib.loads((root / member / "Cargo.toml").read_text())
            binaries |= {b["name"] for b in manifest.get("bin", [])} or {manifest["package"]["name"]}
        for fn in Template(TEMPLATE).functions().values():
            with self.subTest(fn.logical_id):
                if fn.inline_code:
                    self.assertTrue(fn.runtime.startswith("python"), "inline code runs locally only in Python")
                else:
                    self.assertIn(fn.name, binaries, "cargo lambda watch invokes functions by binary name")


class Routing(unittest.TestCase):
    def test_the_most_specific_route_of_the_method_wins(self):
        f, rec = front()
        f.handle(request("POST", "/api/portals/p/developers/invites"))
        f.handle(request("GET", "/api/portals/p/developers/invites"))
        self.assertEqual(rec.calls[0][0], "invites")
        self.assertEqual(rec.calls[1][0], "approvals")
        self.assertEqual(rec.calls[1][1]["pathParameters"], {"portal_id": "p", "developer_id": "invites"})

    def test_what_no_route_matches_goes_to_the_default_route(self):
        f, rec = front()
        for method, target in [("PUT", "/api/portals/p"), ("GET", "/nowhere"), ("GET", "/api/portals/"),
                               ("PROPFIND", "/api/approvals"), ("POST", "/example/orders")]:
            with self.subTest(method=method, target=target):
                _, key, _ = f.handle(request(method, target))
                self.assertEqual(key, "$default")
                name, event = rec.calls[-1]
                self.assertEqual(name, "fallback")
                self.assertEqual(event["routeKey"], "$default")
                self.assertNotIn("pathParameters", event)

    def test_the_console_exists_only_while_console_enabled_is_true(self):
        f, rec = front()
        f.handle(request("GET", "/console/sign-in"))
        self.assertEqual(rec.calls[-1][0], "console")
        off, rec = front(overrides={"ConsoleEnabled": "false"})
        self.assertNotIn("ConsoleFunction", off.functions)
        _, key, _ = off.handle(request("GET", "/console/sign-in"))
        self.assertEqual((key, rec.calls[-1][0]), ("$default", "fallback"), "the fallback's 404, as deployed")

    def test_a_condition_the_template_does_not_have_or_cannot_evaluate_is_an_error(self):
        t = Template(TEMPLATE)
        self.assertTrue(t.condition("ConsoleOn"))
        self.assertFalse(Template(TEMPLATE, {"ConsoleEnabled": "false"}).condition("ConsoleOn"))
        with self.assertRaises(KeyError):
            t.condition("NoSuchCondition")
        with self.assertRaises(ValueError):
            t._truth({"Fn::If": ["ConsoleOn", True, False]})

    def test_without_a_default_route_api_gateway_answers_its_own_404(self):
        data = copy.deepcopy(TEMPLATE)
        del data["Resources"]["FallbackFunction"]
        f, rec = front(data)
        reply, _, _ = f.handle(request("GET", "/nowhere"))
        self.assertEqual((reply.status, message(reply)), (404, "Not Found"))
        self.assertEqual(rec.calls, [])


class Throttling(unittest.TestCase):
    def test_each_route_has_the_templates_rate_and_burst_and_answers_429_beyond(self):
        data = copy.deepcopy(TEMPLATE)
        data["Resources"]["GatehouseApi"]["Properties"]["DefaultRouteSettings"] = {"ThrottlingBurstLimit": 3, "ThrottlingRateLimit": 0.001}
        f, rec = front(data)
        statuses = [f.handle(request("GET", "/api/approvals"))[0].status for _ in range(4)]
        self.assertEqual(statuses, [200, 200, 200, 429])
        reply = f.handle(request("GET", "/api/approvals"))[0]
        self.assertEqual((reply.status, message(reply)), (429, "Too Many Requests"))
        self.assertEqual(f.handle(request("GET", f"/api/portals/{PORTAL}"))[0].status, 200, "another route has its own bucket")
        self.assertEqual(len(rec.of("approvals")), 3)

    def test_the_bucket_refills_at_the_rate(self):
        from infra.local.front import TokenBucket
        bucket = TokenBucket(rate=2, burst=2)
        now = bucket.at
        self.assertEqual([bucket.take(now), bucket.take(now), bucket.take(now)], [True, True, False])
        self.assertTrue(bucket.take(now + 0.5))
        self.assertFalse(bucket.take(now + 0.5))

    def test_the_template_limits_are_what_the_stack_runs_with(self):
        f, _ = front()
        settings = TEMPLATE["Resources"]["GatehouseApi"]["Properties"]["DefaultRouteSettings"]
        bucket = f.buckets["GET /api/approvals"]
        self.assertEqual((bucket.burst, bucket.rate), (settings["ThrottlingBurstLimit"], settings["ThrottlingRateLimit"]))


class ResponseMapping(unittest.TestCase):
    def reply_to(self, payload):
        f, rec = front()
        rec.answers["approvals"] = payload
        return f.handle(request("GET", "/api/approvals"))[0]

    def test_status_headers_cookies_and_body_are_mapped_and_multi_value_headers_ignored(self):
        reply = self.reply_to(answer(201, '{"a":1}', headers={"content-type": "application/json", "x-n": 3},
                                     cookies=["s=1; HttpOnly", "t=2"], multiValueHeaders={"x-multi": ["a", "b"]}))
        self.assertEqual(reply.status, 201)
        self.assertEqual(reply.body, b'{"a":1}')
        self.assertIn(("content-type", "application/json"), reply.headers)
        self.assertIn(("x-n", "3"), reply.headers)
        self.assertEqual([v for k, v in reply.headers if k == "Set-Cookie"], ["s=1; HttpOnly", "t=2"])
        self.assertNotIn("x-multi", {k.lower() for k, _ in reply.headers})

    def test_a_base64_body_is_decoded(self):
        reply = self.reply_to(answer(200, base64.b64encode(b"\x00\xff").decode(), isBase64Encoded=True))
        self.assertEqual(reply.body, b"\x00\xff")

    def test_an_answer_without_status_code_is_a_200_json_body(self):
        reply = self.reply_to(b'{"hello": "world"}')
        self.assertEqual((reply.status, reply.body), (200, b'{"hello": "world"}'))
        self.assertIn(("Content-Type", "application/json"), reply.headers)

    def test_a_function_error_or_a_malformed_answer_is_api_gateways_500(self):
        for payload in [FunctionError("boom"), b"not json", answer("abc"), answer(200, {"an": "object"}),
                        answer(200, "!!", isBase64Encoded=True), answer(200, "", headers=["x"])]:
            with self.subTest(payload=payload):
                reply = self.reply_to(payload)
                self.assertEqual((reply.status, message(reply)), (500, "Internal Server Error"))

    def test_no_answer_within_the_integration_timeout_is_503(self):
        reply = self.reply_to(IntegrationTimeout("approvals"))
        self.assertEqual((reply.status, message(reply)), (503, "Service Unavailable"))


class Authorizer(unittest.TestCase):
    ORDERS = "/example/orders"

    def setUp(self):
        self.front, self.rec = front(allow_clock_offset=True)
        self.decisions = []
        self.rec.answers["authorizer"] = lambda e: json.dumps(self.decisions.pop(0)).encode()

    def call(self, key=None, offset=0, target=ORDERS):
        headers = [("x-gatehouse-clock-offset", str(offset))]
        if key is not None:
            headers.append(("X-Api-Key", key))
        return self.front.handle(request("GET", target, headers))[0]

    def test_the_template_configures_identity_sources_and_ttl(self):
        auth = self.front.authorizers["ApiKeyAuthorizer"]
        self.assertIn("$request.header.x-api-key", auth.identity_sources)
        self.assertEqual(auth.ttl_seconds, int(TEMPLATE["Parameters"]["AuthorizerCacheTtlSeconds"]["Default"]))
        self.assertTrue(auth.simple_responses)
        over, _ = front(overrides=parse_overrides("AuthorizerCacheTtlSeconds=2"))
        self.assertEqual(over.authorizers["ApiKeyAuthorizer"].ttl_seconds, 2)

    def test_a_missing_or_empty_identity_source_is_401_without_calling_the_authorizer(self):
        for key in (None, "", "  "):
            with self.subTest(key=key):
                reply = self.call(key)
                self.assertEqual((reply.status, message(reply)), (401, "Unauthorized"))
        self.assertEqual(self.rec.calls, [])

    def test_an_allow_reaches_the_backend_with_the_context_and_a_deny_is_403(self):
        self.decisions += [{"isAuthorized": True, "context": {"developer_id": "d1"}}, {"isAuthorized": False}]
        reply = self.call("ghk_one")
        self.assertEqual(reply.status, 200)
        self.assertEqual(json.loads(reply.body)["developer_id"], "d1")  # the inline example backend
        (auth_event,) = self.rec.of("authorizer")
        self.assertEqual((auth_event["type"], auth_event["version"]), ("REQUEST", "2.0"))
        self.assertEqual(auth_event["identitySource"][0], "ghk_one")
        self.assertEqual(auth_event["routeKey"], "GET /example/orders")
        self.assertTrue(auth_event["routeArn"].endswith("/$default/GET/example/orders"))
        self.assertNotIn("body", auth_event)
        reply = self.call("ghk_two")
        self.assertEqual((reply.status, message(reply)), (403, "Forbidden"))

    def test_a_decision_is_cached_for_the_ttl_and_asked_again_after(self):
        ttl = self.front.authorizers["ApiKeyAuthorizer"].ttl_seconds
        self.decisions += [{"isAuthorized": True}, {"isAuthorized": False}]
        self.assertEqual(self.call("ghk_k").status, 200)
        self.assertEqual(self.call("ghk_k", offset=ttl - 1).status, 200)
        self.assertEqual(len(self.rec.of("authorizer")), 1, "the cached allow was reused")
        self.assertEqual(self.call("ghk_k", offset=ttl + 1).status, 403)
        self.assertEqual(len(self.rec.of("authorizer")), 2)

    def test_a_failing_or_malformed_authorizer_is_500_and_not_cached(self):
        self.rec.answers["authorizer"] = FunctionError("boom")
        self.assertEqual(self.call("ghk_x").status, 500)
        self.rec.answers["authorizer"] = json.dumps({"isAuthorized": "yes"}).encode()
        self.assertEqual(self.call("ghk_x").status, 500)
        self.rec.answers["authorizer"] = json.dumps({"isAuthorized": True}).encode()
        self.assertEqual(self.call("ghk_x").status, 200)
        self.assertEqual(len(self.rec.of("authorizer")), 3)

    def test_every_identity_source_is_required_and_part_of_the_cache_key(self):
        data = copy.deepcopy(TEMPLATE)
        auth = data["Resources"]["GatehouseApi"]["Properties"]["Auth"]["Authorizers"]["ApiKeyAuthorizer"]
        auth["Identity"] = {"Headers": ["x-api-key"], "QueryStrings": ["tenant"], "Context": ["routeKey"], "ReauthorizeEvery": 60}
        f, rec = front(data)
        rec.answers["authorizer"] = json.dumps({"isAuthorized": True}).encode()
        reply = f.handle(request("GET", self.ORDERS, [("x-api-key", "k")]))[0]
        self.assertEqual(reply.status, 401)
        f.handle(request("GET", self.ORDERS + "?tenant=a", [("x-api-key", "k")]))
        f.handle(request("GET", self.ORDERS + "?tenant=b", [("x-api-key", "k")]))
        f.handle(request("GET", self.ORDERS + "?tenant=a", [("x-api-key", "k")]))
        events = rec.of("authorizer")
        self.assertEqual([e["identitySource"] for e in events], [["k", "a", "GET /example/orders"], ["k", "b", "GET /example/orders"]])

    def test_a_ttl_of_zero_asks_every_time(self):
        f, rec = front(overrides={"AuthorizerCacheTtlSeconds": "0"})
        rec.answers["authorizer"] = json.dumps({"isAuthorized": True}).encode()
        for _ in range(3):
            f.handle(request("GET", self.ORDERS, [("x-api-key", "k")]))
        self.assertEqual(len(rec.of("authorizer")), 3)

    def test_iam_policy_answers_are_evaluated_when_simple_responses_are_off(self):
        data = copy.deepcopy(TEMPLATE)
        data["Resources"]["GatehouseApi"]["Properties"]["Auth"]["Authorizers"]["ApiKeyAuthorizer"]["EnableSimpleResponses"] = False
        f, rec = front(data, {"AuthorizerCacheTtlSeconds": "0"})

        def policy(effect, resource="arn:aws:execute-api:*:*:*/$default/GET/example/*"):
            return json.dumps({"principalId": "dev", "context": {"developer_id": "d"}, "policyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": [resource]}]}}).encode()

        for payload, status in [(policy("Allow"), 200), (policy("Deny"), 403), (policy("Allow", "arn:aws:execute-api:*:*:*/*/POST/*"), 403)]:
            rec.answers["authorizer"] = payload
            self.assertEqual(f.handle(request("GET", self.ORDERS, [("x-api-key", "k")]))[0].status, status)


class FakeWatch(BaseHTTPRequestHandler):
    """cargo lambda watch's invoke endpoint, answering with the event it got."""

    protocol_version = "HTTP/1.1"

    def do_POST(self):
        event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if "boom" in event.get("rawPath", ""):
            out, status = b'{"errorType":"panic","errorMessage":"boom"}', 500
        else:
            out, status = answer(200, json.dumps(event), headers={"content-type": "application/json", "x-fn": self.path}), 200
        self.send_response(status)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *a):
        pass


class OverHttp(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.watch = ThreadingHTTPServer(("127.0.0.1", 0), FakeWatch)
        threading.Thread(target=cls.watch.serve_forever, daemon=True).start()
        invoker = WatchInvoker(f"http://127.0.0.1:{cls.watch.server_address[1]}", timeout=10)
        cls.server = serve(Front(Template(TEMPLATE), invoker), "127.0.0.1", 0)
        threading.Thread(target=cls.server.serve_forever, daemon=True).start()
        cls.port = cls.server.server_address[1]

    @classmethod
    def tearDownClass(cls):
        for s in (cls.server, cls.watch):
            s.shutdown()
            s.server_close()

    def send(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        headers = headers or {}
        conn.request(method, path, body=body, headers=headers, encode_chunked="Transfer-Encoding" in headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp, data

    def test_a_non_utf8_json_body_reaches_the_function_base64_encoded(self):
        body = b'{"login": "\xff"}'
        resp, data = self.send("POST", f"/api/portals/{PORTAL}/login", body, {"Content-Type": "application/json"})
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.getheader("x-fn"), "/2015-03-31/functions/sessions/invocations")
        self.assertTrue(resp.getheader("apigw-requestid"))
        event = json.loads(data)
        self.assertIs(event["isBase64Encoded"], True)
        self.assertEqual(base64.b64decode(event["body"]), body)
        self.assertEqual(event["requestContext"]["http"]["sourceIp"], "127.0.0.1")
        self.assertEqual(event["headers"]["content-length"], str(len(body)))

    def test_any_method_is_routed_and_a_head_answer_has_no_body(self):
        resp, data = self.send("PROPFIND", "/api/portals")
        self.assertEqual(resp.getheader("x-fn"), "/2015-03-31/functions/fallback/invocations")
        resp, data = self.send("HEAD", "/api/portals")
        self.assertEqual(resp.status, 200)
        self.assertEqual(data, b"")

    def test_a_chunked_body_is_read_whole(self):
        def chunks():
            yield b'{"a":'
            yield b' 1}'
        resp, data = self.send("POST", f"/api/portals/{PORTAL}/login", chunks(), {"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
        self.assertEqual(json.loads(data)["body"], '{"a": 1}')

    def test_a_crashing_function_answers_500_internal_server_error(self):
        resp, data = self.send("GET", "/api/portals/boom")
        self.assertEqual(resp.status, 500)
        self.assertEqual(json.loads(data), {"message": "Internal Server Error"})


if __name__ == "__main__":
    unittest.main()
