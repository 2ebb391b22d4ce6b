"""Webhook delivery end to end against the local stack (bash infra/local/up.sh --detach):
an endpoint registered through the admin API on a loopback receiver gets a registration's
event signed (verified by the official `standardwebhooks` library); while the receiver
answers 503 the delivery is retried on the stack's short schedule
(GATEHOUSE_WEBHOOK_RETRY_SCHEDULE) and, once it answers 200, arrives with the same
webhook-id. A test delivery from the API arrives signed and shows in the deliveries list and
the audit trail; a replay of a window re-delivers exactly that window's matching events, in
order, with their webhook-ids; the deliveries list shows attempts, codes and the next attempt
while the receiver is down.

Run from the workspace root with the stack up:  python3 -m unittest tests/webhooks/test_delivery.py
"""

import json
import sys
import time
import unittest
import urllib.parse
import uuid
from pathlib import Path

from standardwebhooks.webhooks import Webhook

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from receiver import OPENER as _HTTP, Receiver as _Receiver, call, env_file  # noqa: E402


def local_env():
    return env_file(ROOT / ".gatehouse" / "local.env")


class Receiver(_Receiver):
    """Answers `down` 503s first, then 200; `refuse(type, body)` may answer 503 for chosen
    requests instead (the status is kept too)."""

    def __init__(self, down, refuse=None):
        def answer(n, _headers, body):
            return 503 if n <= down or (refuse and refuse(json.loads(body)["type"], body)) else 200

        super().__init__(answer)


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

    def endpoint(self, env, receiver, events):
        api, token, portal = env["GATEHOUSE_API"], env["GATEHOUSE_ADMIN_TOKEN"], env["GATEHOUSE_PORTAL_ID"]
        status, hook = call("POST", f"{api}/portals/{portal}/webhooks", {"url": receiver.url, "events": events}, token)
        self.assertEqual(status, 201, hook)
        self.addCleanup(call, "DELETE", f"{api}/portals/{portal}/webhooks/{hook['id']}", None, token)
        return hook

    def register(self, env, email=None):
        email = email or f"hook-{uuid.uuid4().hex[:10]}@example.com"
        status, registered = call("POST", f"{env['GATEHOUSE_API']}/portals/{env['GATEHOUSE_PORTAL_ID']}/register",
                                  {"email": email, "password": "correct horse battery staple", "name": "Hook Test"})
        self.assertEqual(status, 202, registered)
        return email, registered

    def test_a_developers_approval_arrives_only_after_its_registration_that_the_receiver_refused_for_a_while(self):
        env = local_env()
        api, token = env["GATEHOUSE_API"], env["GATEHOUSE_ADMIN_TOKEN"]
        refused = []

        def refuse(event_type, _body):
            # The registration's first 3 attempts (about 2 s on the stack's 1,1,2 schedule:
            # under its 6 s disabling period), then it is accepted.
            if event_type == "developer.registered" and len(refused) < 3:
                refused.append(1)
                return True
            return False
        receiver = Receiver(down=0, refuse=refuse)
        self.addCleanup(receiver.close)
        self.endpoint(env, receiver, ["developer.registered", "developer.approved"])
        email, registered = self.register(env)
        portal = env["GATEHOUSE_PORTAL_ID"]

        def approval():
            url, mine = f"{api}/approvals?event=developer_registration&status=pending&portal_id={portal}", None
            while url and not mine:
                status, page = call("GET", url, None, token)
                self.assertEqual(status, 200, page)
                mine = next((a for a in page["list"] if a["developer_id"] == registered["id"]), None)
                url = page.get("next_cursor") and f"{api}/approvals?event=developer_registration&status=pending&portal_id={portal}&cursor={page['next_cursor']}"
            return mine
        mine = wait_until(approval, "the registration's approval")
        status, accepted = call("POST", f"{api}/approvals/{mine['id']}/accept", None, token)
        self.assertEqual(status, 200, accepted)

        def both():
            with receiver.lock:
                got = [(json.loads(b)["type"], st) for (_, b), st in zip(receiver.requests, receiver.statuses)
                       if json.loads(b)["data"]["data"]["developer"]["email"] == email]
            return any(t == "developer.approved" and st == 200 for t, st in got) and got
        got = wait_until(both, "the approval delivered", timeout=120)
        first_ok = next(i for i, (t, st) in enumerate(got) if t == "developer.registered" and st == 200)
        approvals_sent = [i for i, (t, _) in enumerate(got) if t == "developer.approved"]
        self.assertGreater(len([1 for t, st in got if t == "developer.registered" and st == 503]), 0, got)
        self.assertTrue(all(i > first_ok for i in approvals_sent), f"the approval was sent before the registration arrived: {got}")
        self.assertEqual(len(approvals_sent), 1, got)

    def test_an_endpoint_failing_every_delivery_for_the_period_is_disabled_with_an_event_and_a_mail_to_the_admins(self):
        env = local_env()
        api, token, portal = env["GATEHOUSE_API"], env["GATEHOUSE_ADMIN_TOKEN"], env["GATEHOUSE_PORTAL_ID"]
        status, p = call("GET", f"{api}/portals/{portal}", None, token)
        self.assertEqual(status, 200, p)
        admins = p["settings"].get("admin_emails") or []
        if not admins:
            status, _ = call("PATCH", f"{api}/portals/{portal}", {"settings": {"admin_emails": ["ops@example.com"]}}, token)
            self.assertEqual(status, 200)
            self.addCleanup(call, "PATCH", f"{api}/portals/{portal}", {"settings": {"admin_emails": []}}, token)
            admins = ["ops@example.com"]
        receiver = Receiver(down=10 ** 6)
        self.addCleanup(receiver.close)
        hook = self.endpoint(env, receiver, ["developer.registered"])

        def disabled():
            # The stack disables after GATEHOUSE_WEBHOOK_DISABLE_AFTER_SECONDS (6 s): events keep
            # coming, every one fails, until the endpoint is off.
            status, h = call("GET", f"{api}/portals/{portal}/webhooks/{hook['id']}", None, token)
            if h and not h["enabled"]:
                return h
            self.register(env)
            time.sleep(2)
            return None
        wait_until(disabled, "the endpoint disabled", timeout=120)

        def event():
            status, page = call("GET", f"{api}/portals/{portal}/events?type=webhook.disabled&limit=20", None, token)
            self.assertEqual(status, 200, page)
            return next((e for e in page["list"] if e["data"].get("webhook_id") == hook["id"]), None)
        e = wait_until(event, "the webhook.disabled event in the audit trail")
        self.assertEqual(e["data"]["url"], receiver.url)
        self.assertEqual(e["actor"]["kind"], "system")

        def mailed():
            with _HTTP.open(f"{env['GATEHOUSE_MAILBOX']}?to={urllib.parse.quote(admins[0])}", timeout=30) as r:
                box = r.read().decode()
            # The HTML part escapes the URL's slashes: look for its host and port.
            return receiver.url.split("/")[2] in box and "webhook endpoint was disabled" in box
        wait_until(mailed, "the admins' mail")
        with receiver.lock:
            before = len(receiver.requests)
        self.register(env)
        time.sleep(3)
        with receiver.lock:
            self.assertEqual(len(receiver.requests), before, "a disabled endpoint gets nothing")

    def test_after_a_rotation_both_secrets_sign_and_after_the_overlap_only_the_new_one(self):
        env = local_env()
        api, token, portal = env["GATEHOUSE_API"], env["GATEHOUSE_ADMIN_TOKEN"], env["GATEHOUSE_PORTAL_ID"]
        receiver = Receiver(down=0)
        self.addCleanup(receiver.close)
        hook = self.endpoint(env, receiver, ["developer.registered"])
        old = hook["secret"]
        status, rotated = call("POST", f"{api}/portals/{portal}/webhooks/{hook['id']}/rotate-secret", {}, token)
        self.assertEqual(status, 200, rotated)
        new = rotated["secret"]
        self.assertNotEqual(old, new)

        def delivered(email):
            with receiver.lock:
                return next(((h, b) for h, b in receiver.requests if email in b), None)
        email, _ = self.register(env)
        headers, body = wait_until(lambda: delivered(email), "a delivery during the overlap")
        headers = {k.lower(): v for k, v in headers.items()}
        self.assertEqual(len(headers["webhook-signature"].split(" ")), 2, headers["webhook-signature"])
        for secret in (old, new):
            self.assertEqual(Webhook(secret).verify(body, headers)["type"], "developer.registered")

        time.sleep(5)  # the stack's overlap is GATEHOUSE_WEBHOOK_ROTATION_OVERLAP_SECONDS=4
        email, _ = self.register(env)
        headers, body = wait_until(lambda: delivered(email), "a delivery after the overlap")
        headers = {k.lower(): v for k, v in headers.items()}
        self.assertEqual(len(headers["webhook-signature"].split(" ")), 1, headers["webhook-signature"])
        self.assertEqual(Webhook(new).verify(body, headers)["type"], "developer.registered")
        with self.assertRaises(Exception):
            Webhook(old).verify(body, headers)


    def setUp(self):
        env = local_env()
        self.api, self.token = env["GATEHOUSE_API"], env["GATEHOUSE_ADMIN_TOKEN"]
        # A portal of its own, so no other test's events fall into a replayed window.
        status, portal = call("POST", f"{self.api}/portals", {"name": f"Hooks {uuid.uuid4().hex[:6]}"}, self.token)
        self.assertEqual(status, 201, portal)
        self.portal = portal["id"]

    def hook(self, receiver, events):
        status, hook = call("POST", f"{self.api}/portals/{self.portal}/webhooks", {"url": receiver.url, "events": events}, self.token)
        self.assertEqual(status, 201, hook)
        self.addCleanup(call, "DELETE", f"{self.api}/portals/{self.portal}/webhooks/{hook['id']}", None, self.token)
        return hook

    def register_here(self):
        email = f"hook-{uuid.uuid4().hex[:10]}@example.com"
        status, body = call("POST", f"{self.api}/portals/{self.portal}/register",
                            {"email": email, "password": "correct horse battery staple", "name": "Hook Test"})
        self.assertEqual(status, 202, body)
        return email

    def deliveries(self, hook, query=""):
        status, page = call("GET", f"{self.api}/portals/{self.portal}/webhooks/{hook['id']}/deliveries{query}", None, self.token)
        self.assertEqual(status, 200, page)
        return page

    def test_a_test_delivery_arrives_signed_to_that_endpoint_only_and_shows_in_its_deliveries_and_the_audit_trail(self):
        receiver, other = Receiver(down=0), Receiver(down=0)
        self.addCleanup(receiver.close)
        self.addCleanup(other.close)
        hook = self.hook(receiver, ["invite.*"])
        self.hook(other, ["webhook.*"])
        status, answer = call("POST", f"{self.api}/portals/{self.portal}/webhooks/{hook['id']}/test", None, self.token)
        self.assertEqual(status, 202, answer)
        requests = wait_until(lambda: list(receiver.requests), "the test delivery")
        headers, body = requests[0]
        payload = Webhook(hook["secret"]).verify(body, {k.lower(): v for k, v in headers.items()})
        self.assertEqual((payload["type"], payload["data"]["id"]), ("webhook.test", answer["event_id"]))
        self.assertEqual(payload["data"]["data"]["webhook_id"], hook["id"])
        self.assertEqual(payload["data"]["actor"]["kind"], "admin")
        self.assertNotIn("whsec_", body)
        listed = wait_until(lambda: [d for d in self.deliveries(hook, "?status=succeeded")["list"] if d["event_id"] == answer["event_id"]],
                            "the succeeded delivery in the list")
        self.assertEqual((listed[0]["type"], listed[0]["attempts"], listed[0]["last_status_code"]), ("webhook.test", 1, 200))
        status, trail = call("GET", f"{self.api}/portals/{self.portal}/events?type=webhook.test", None, self.token)
        self.assertEqual(status, 200, trail)
        self.assertEqual([e["id"] for e in trail["list"]], [answer["event_id"]])
        time.sleep(2)  # give a wrongly fanned-out copy the time to arrive
        self.assertEqual(other.requests, [], "the other endpoint's filters take webhook.* but a test is for its endpoint only")

    def test_a_replay_re_delivers_exactly_the_windows_matching_events_in_order_with_their_webhook_ids(self):
        receiver = Receiver(down=0)
        self.addCleanup(receiver.close)
        hook = self.hook(receiver, ["developer.registered"])
        self.register_here()
        first = wait_until(lambda: len(receiver.requests) >= 1 and list(receiver.requests), "the event before the window")
        time.sleep(1.1)
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        time.sleep(1.1)
        for _ in range(3):
            self.register_here()
        inside = wait_until(lambda: len(receiver.requests) >= 4 and list(receiver.requests)[1:], "the three events in the window")
        time.sleep(1.1)
        until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        time.sleep(1.1)
        self.register_here()
        wait_until(lambda: len(receiver.requests) >= 5, "the event after the window")
        window_ids = sorted(h.get("webhook-id") for h, _ in inside)  # UUIDv7: sorted is oldest first
        outside = {first[0][0].get("webhook-id"), receiver.requests[4][0].get("webhook-id")}
        with receiver.lock:
            receiver.requests.clear()

        status, answer = call("POST", f"{self.api}/portals/{self.portal}/webhooks/{hook['id']}/replay",
                              {"since": since, "until": until}, self.token)
        self.assertEqual(status, 202, answer)
        self.assertIn("replay_id", answer)
        replayed = wait_until(lambda: len(receiver.requests) >= 3 and list(receiver.requests), "the replayed events")
        time.sleep(3)  # anything outside the window would arrive by now
        ids = [h.get("webhook-id") for h, _ in receiver.requests]
        self.assertEqual(ids, window_ids, "exactly the window, oldest first, the original webhook-ids")
        self.assertFalse(outside & set(ids))
        for headers, body in replayed:
            Webhook(hook["secret"]).verify(body, {k.lower(): v for k, v in headers.items()})
        listed = {d["event_id"]: d for d in self.deliveries(hook)["list"]}
        self.assertEqual({listed[i]["status"] for i in window_ids}, {"succeeded"})

    def test_a_bad_replay_window_is_a_400_problem(self):
        receiver = Receiver(down=0)
        self.addCleanup(receiver.close)
        hook = self.hook(receiver, ["developer.*"])
        url = f"{self.api}/portals/{self.portal}/webhooks/{hook['id']}/replay"
        for body in [{"since": "yesterday", "until": "2026-01-01T00:00:00Z"}, {"since": "2026-12-02T10:00:00Z", "until": "2026-12-02T09:00:00Z"},
                     {"until": "2026-12-02T09:00:00Z"}, {"since": "2020-01-01T00:00:00Z", "until": "2020-01-02T00:00:00Z"}]:
            status, problem = call("POST", url, body, self.token)
            self.assertEqual(status, 400, (body, problem))
        status, _ = call("POST", f"{self.api}/portals/{self.portal}/webhooks/{uuid.uuid4()}/replay",
                         {"since": "2026-12-02T09:00:00Z", "until": "2026-12-02T10:00:00Z"}, self.token)
        self.assertEqual(status, 404)

    def test_the_deliveries_list_shows_attempts_codes_and_the_next_attempt_while_the_receiver_is_down(self):
        receiver = Receiver(down=1000)
        self.addCleanup(receiver.close)
        hook = self.hook(receiver, ["developer.registered"])
        self.register_here()
        wait_until(lambda: len(receiver.requests) >= 2, "two failed attempts")

        def pending():
            page = self.deliveries(hook, "?status=pending")
            return page["list"] and page["list"][0]["attempts"] >= 2 and page["list"]
        d = wait_until(pending, "the pending delivery with its attempts")[0]
        self.assertEqual((d["type"], d["status"], d["last_status_code"], d["delivered_at"]), ("developer.registered", "pending", 503, None))
        self.assertIsNotNone(d["next_attempt_at"])
        self.assertEqual(self.deliveries(hook, "?status=succeeded")["list"], [])
        status, problem = call("GET", f"{self.api}/portals/{self.portal}/webhooks/{hook['id']}/deliveries?status=sent", None, self.token)
        self.assertEqual(status, 400, problem)


if __name__ == "__main__":
    unittest.main()
