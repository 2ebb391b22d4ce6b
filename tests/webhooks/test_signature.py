"""The webhook signatures Gatehouse sends, verified by the official `standardwebhooks` library
(PyPI, pinned in infra/requirements.txt), not by a re-implementation: a fresh signature
verifies, a tampered body or an old timestamp does not, and during a rotation the header
carries both signatures so a receiver holding either secret verifies it.

Run from the workspace root:  python3 -m unittest tests/webhooks/test_signature.py
(builds and runs the `sign_webhook` example of the gatehouse crate: the signing code itself).
"""

import base64
import json
import os
import subprocess
import time
import unittest
from pathlib import Path

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

ROOT = Path(__file__).resolve().parents[2]


def new_secret():
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


def sign(msg_id, timestamp, body, *secrets):
    out = subprocess.run(
        ["cargo", "run", "-q", "-p", "gatehouse", "--example", "sign_webhook", "--", msg_id, str(timestamp), *secrets],
        input=body, capture_output=True, text=True, cwd=ROOT, check=True,
    )
    return json.loads(out.stdout)


BODY = json.dumps({"type": "developer.approved", "timestamp": "2026-12-02T06:00:00Z",
                   "data": {"id": "0193a9e0-0000-7000-8000-000000000000", "type": "developer.approved"}})


class Signature(unittest.TestCase):
    def test_a_fresh_signature_verifies_with_the_standardwebhooks_library(self):
        secret = new_secret()
        headers = sign("0193a9e0-0000-7000-8000-000000000000", int(time.time()), BODY, secret)
        self.assertEqual(headers["webhook-id"], "0193a9e0-0000-7000-8000-000000000000")
        self.assertEqual(Webhook(secret).verify(BODY, headers), json.loads(BODY))

    def test_a_tampered_body_an_old_timestamp_or_another_secret_fails_verification(self):
        secret = new_secret()
        now = int(time.time())
        headers = sign("evt_1", now, BODY, secret)
        with self.assertRaises(WebhookVerificationError):
            Webhook(secret).verify(BODY.replace("approved", "rejected"), headers)
        with self.assertRaises(WebhookVerificationError):
            Webhook(new_secret()).verify(BODY, headers)
        old = sign("evt_1", now - 3600, BODY, secret)
        with self.assertRaises(WebhookVerificationError):
            Webhook(secret).verify(BODY, old)

    def test_during_a_rotation_a_receiver_with_either_secret_verifies(self):
        new, previous = new_secret(), new_secret()
        headers = sign("evt_2", int(time.time()), BODY, new, previous)
        self.assertEqual(len(headers["webhook-signature"].split(" ")), 2)
        for secret in (new, previous):
            self.assertEqual(Webhook(secret).verify(BODY, headers), json.loads(BODY))


if __name__ == "__main__":
    unittest.main()
