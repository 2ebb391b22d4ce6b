"""Webhook delivery end to end against the local stack (bash infra/local/up.sh --detach):
an endpoint registered through the admin API on a loopback receiver gets a registration's
event signed (verified by the official `standardwebhooks` library); while the receiver
answers 503 the delivery is retried on the stack's short schedule
(GATEHOUSE_WEBHOOK_RETRY_SCHEDULE) and, once it answers 200, arrives with the same
webhook-id.

Run from the workspace root with the stack up:  python3 -m unittest tests/webhooks/test_delivery.py
"""

import json
import threading
import time
import unittest
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from standardwebhooks.webhooks import Webhook

ROOT = Path(__file__).resolve().parents[2]
_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def local_env():
    env = {}
    for line in (ROOT / ".gatehouse" / "local.env").read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep:
            env[key.strip()] = value.strip()
    return env


def call(method, url, body=None, token=None):
    req = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode(), method=method,
                                 headers={"content-type": "application/json"})
    if token:
        req.add_header("authorization", f"Bearer {token}")
    try:
        with _HTTP.open(req, timeout=60) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


class Receiver:
    """A loopback webhook receiver: answers `down` 503s first, then 200; keeps every request."""

    def __init__(self, down):
        self.down, self.lock, self.requests = down, threading.Lock(), []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                with receiver.lock:
                    receiver.requests.append((dict(self.headers.items()), body))
                    status = 503 if len(receiver.requests) <= receiver.down else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def wait_until(cond, what, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


class Delivery(unittest.TestCase):
    def test_a_registration_arrives_signed_and_a_receiver_that_was_down_gets_it_once_it_is_back(self):
        env = local_env()
        api, token, portal = env["GATEHOUSE_API"], env["GATEHOUSE_ADMIN_TOKEN"], env["GATEHOUSE_PORTAL_ID"]
        receiver = Receiver(down=2)
        self.addCleanup(receiver.close)
        status, hook = call("POST", f"{api}/portals/{portal}/webhooks", {"url": receiver.url, "events": ["developer.registered"]}, token)
        self.assertEqual(status, 201, hook)
        self.addCleanup(call, "DELETE", f"{api}/portals/{portal}/webhooks/{hook['id']}", None, token)

        email = f"hook-{uuid.uuid4().hex[:10]}@example.com"
        status, registered = call("POST", f"{api}/portals/{portal}/register",
                                  {"email": email, "password": "correct horse battery staple", "name": "Hook Test"})
        self.assertEqual(status, 202, registered)

        def delivered():
            with receiver.lock:
                return len(receiver.requests) >= 3 and list(receiver.requests)
        requests = wait_until(delivered, "three attempts (two 503s, then 200)")
        ids = {headers.get("webhook-id") for headers, _ in requests}
        self.assertEqual(len(ids), 1, "the same webhook-id on every attempt")
        for headers, body in requests:
            payload = Webhook(hook["secret"]).verify(body, {k.lower(): v for k, v in headers.items()})
            self.assertEqual(payload["type"], "developer.registered")
            self.assertEqual(payload["data"]["data"]["developer"]["email"], email)
            self.assertEqual(payload["data"]["id"], headers.get("webhook-id"), "webhook-id is the event id")
            self.assertNotIn("token_nonce", json.dumps(payload))
        self.assertEqual(len(requests), 3, "delivered on the third attempt, no more")


if __name__ == "__main__":
    unittest.main()
