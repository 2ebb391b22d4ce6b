"""Tests of the IAM check (infra/local/iam_check.py) and of how the fault proxy names the IAM
actions of a call, against the real template.yaml.

    python3 -m unittest infra/local/test_iam_check.py
"""

import json
import sys
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from infra.cfn import load_template  # noqa: E402
from infra.local import faultproxy, iam_check  # noqa: E402

TEMPLATE = load_template(ROOT / "template.yaml")
PARAMS = {"AllowedSenderDomains": "gatehouse.local,mail.gatehouse.local", "SenderEmail": "no-reply@gatehouse.local"}
SECRETS = {"gatehouse/token-secret"}


def call(function, service, action, resource, sender=None):
    return {"function": function, "service": service, "action": action, "resource": resource, "from": sender, "count": 1}


def check(*calls):
    return iam_check.check(TEMPLATE, list(calls), PARAMS, "gatehouse", SECRETS)


class IamCheck(unittest.TestCase):
    def test_a_call_the_functions_policy_lacks_fails_the_check(self):
        denied, _ = check(
            call("portals", "dynamodb", "dynamodb:GetItem", "table/gatehouse"),
            call("portals", "dynamodb", "dynamodb:DeleteItem", "table/gatehouse"),
        )
        self.assertEqual(len(denied), 1, denied)
        self.assertIn("portals: dynamodb:DeleteItem", denied[0])

    def test_an_index_read_needs_the_index_resource(self):
        denied, _ = check(call("authorizer", "dynamodb", "dynamodb:Query", "table/gatehouse/index/gsi1"))
        self.assertEqual(len(denied), 1, denied)
        denied, _ = check(call("approvals", "dynamodb", "dynamodb:Query", "table/gatehouse/index/gsi1"))
        self.assertEqual(denied, [])

    def test_mail_may_be_sent_only_from_the_allowed_sender_domains(self):
        ok = call("stream-consumer", "ses", "ses:SendEmail", "identity/*", "no-reply@gatehouse.local")
        sub = call("stream-consumer", "ses", "ses:SendEmail", "identity/*", "team@mail.gatehouse.local")
        evil = call("stream-consumer", "ses", "ses:SendEmail", "identity/*", "ceo@bank.example")
        denied, _ = check(ok, sub, evil)
        self.assertEqual(len(denied), 1, denied)
        self.assertIn("ceo@bank.example", denied[0])

    def test_only_the_functions_that_need_it_may_read_the_token_secret(self):
        for function in ("registration", "invites", "stream-consumer"):
            denied, _ = check(call(function, "secretsmanager", "secretsmanager:GetSecretValue", "secret/gatehouse/token-secret"))
            self.assertEqual(denied, [], function)
        for function in ("portals", "approvals", "sessions", "password-reset", "teams", "applications", "authorizer"):
            denied, _ = check(call(function, "secretsmanager", "secretsmanager:GetSecretValue", "secret/gatehouse/token-secret"))
            self.assertEqual(len(denied), 1, function)
        denied, _ = check(call("invites", "secretsmanager", "secretsmanager:GetSecretValue", "secret/someone-elses"))
        self.assertEqual(len(denied), 1, "scoped to the token secret")

    def test_a_function_missing_from_the_template_fails_and_unused_grants_are_reported(self):
        denied, unused = check(call("ghost", "dynamodb", "dynamodb:GetItem", "table/gatehouse"))
        self.assertIn("ghost", denied[0])
        self.assertTrue(any(line.startswith("portals: ") for line in unused), unused)
        self.assertFalse(any("GetRecords" in line for line in unused), "the stream permissions are Lambda's")


class ProxyActions(unittest.TestCase):
    def headers(self, target=None):
        h = {"User-Agent": "aws-sdk-rust/1.3 os/linux lang/rust/1.90 app/gatehouse-stream-consumer"}
        if target:
            h["X-Amz-Target"] = target
        return h

    def test_a_transaction_counts_as_the_actions_of_its_items(self):
        body = json.dumps({"TransactItems": [
            {"Put": {"TableName": "gatehouse"}}, {"Update": {"TableName": "gatehouse"}},
            {"ConditionCheck": {"TableName": "gatehouse"}}, {"Delete": {"TableName": "gatehouse"}},
        ]}).encode()
        actions = faultproxy.actions_of("dynamodb", "POST", "/", self.headers("DynamoDB_20120810.TransactWriteItems"), body)
        self.assertEqual([a for a, _, _ in actions],
                         ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem"])

    def test_the_caller_is_named_by_its_user_agent_and_a_query_by_its_index(self):
        self.assertEqual(faultproxy.function_of(self.headers()), "stream-consumer")
        self.assertIsNone(faultproxy.function_of({"User-Agent": "Boto3/1.43 Python/3.11"}))
        body = json.dumps({"TableName": "gatehouse", "IndexName": "gsi3"}).encode()
        self.assertEqual(faultproxy.actions_of("dynamodb", "POST", "/", self.headers("DynamoDB_20120810.Query"), body),
                         [("dynamodb:Query", "table/gatehouse/index/gsi3", None)])

    def test_a_send_records_its_from_address(self):
        body = json.dumps({"FromEmailAddress": "team@mail.gatehouse.local", "Destination": {"ToAddresses": ["a@b.co"]}}).encode()
        self.assertEqual(faultproxy.actions_of("ses", "POST", "/v2/email/outbound-emails", self.headers(), body),
                         [("ses:SendEmail", "identity/*", "team@mail.gatehouse.local")])

    def test_the_sso_key_is_used_only_by_the_sso_function_under_a_provider_context(self):
        body = json.dumps({"KeyId": "arn:aws:kms:us-east-1:123:key/k", "Plaintext": "eA==",
                           "EncryptionContext": {"portal_id": "p", "idp_id": "i"}}).encode()
        actions = faultproxy.actions_of("kms", "POST", "/", self.headers("TrentService.Encrypt"), body)
        self.assertEqual(actions, [("kms:Encrypt", "key/arn:aws:kms:us-east-1:123:key/k", "ctx:idp_id,portal_id")])
        ok = call("sso", "kms", "kms:Encrypt", "key/k", "ctx:idp_id,portal_id")
        self.assertEqual(check(ok)[0], [])
        self.assertEqual(len(check(call("sso", "kms", "kms:Decrypt", "key/k", "ctx:other"))[0]), 1, "another context key")
        self.assertEqual(len(check(call("portals", "kms", "kms:Decrypt", "key/k", "ctx:idp_id,portal_id"))[0]), 1)


if __name__ == "__main__":
    unittest.main()
