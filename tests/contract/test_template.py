"""Contract checks for template.yaml's security settings: the authorizer's cache identity, where
the link-token secret is readable, the sender domains mail may leave from, and the policies the
audit found too wide. (Every call the functions actually make is checked against the policies
by infra/local/iam_check.py during the integration run.)

Run from the workspace root:  python3 -m unittest tests/contract/test_template.py
"""

import sys
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from infra.cfn import load_template, resolve  # noqa: E402
from infra.local.iam_check import function_name, policies  # noqa: E402

TEMPLATE = load_template(ROOT / "template.yaml")
RESOURCES = TEMPLATE["Resources"]
FUNCTIONS = {function_name(k, v): v for k, v in RESOURCES.items() if v["Type"] == "AWS::Serverless::Function"}
PARAMS = {"AllowedSenderDomains": "example.com,mail.example.com"}
NEED_THE_SECRET = {"registration", "invites", "stream-consumer", "pages", "pages-passwords", "console"}


def actions(function):
    return {a for st in policies(TEMPLATE, PARAMS)[function] for a in st["actions"]}


class Template(unittest.TestCase):
    def test_the_authorizer_caches_a_decision_per_key_and_route(self):
        identity = RESOURCES["GatehouseApi"]["Properties"]["Auth"]["Authorizers"]["ApiKeyAuthorizer"]["Identity"]
        self.assertEqual(identity["Headers"], ["x-api-key"])
        self.assertIn("routeKey", identity.get("Context", []), "an allow for one route must not be reused on another")

    def test_no_function_environment_holds_the_token_secret(self):
        def env(resource):
            return (resource.get("Environment") or {}).get("Variables") or {}
        globals_env = env(TEMPLATE["Globals"]["Function"])
        for name, variables in [("Globals", globals_env)] + [(n, env(f["Properties"])) for n, f in FUNCTIONS.items()]:
            self.assertNotIn("GATEHOUSE_TOKEN_SECRET", variables, name)
            self.assertNotIn("resolve:secretsmanager", str(variables), name)
        with_arn = {n for n, f in FUNCTIONS.items() if "GATEHOUSE_TOKEN_SECRET_ARN" in env(f["Properties"])}
        self.assertEqual(with_arn, NEED_THE_SECRET)

    def test_only_the_functions_that_need_the_secret_may_read_it_and_only_that_secret(self):
        for name in FUNCTIONS:
            grants = [st for st in policies(TEMPLATE, PARAMS)[name] if "secretsmanager:GetSecretValue" in st["actions"]]
            if name in NEED_THE_SECRET:
                self.assertEqual([st["resources"] for st in grants], [["arn:res:TokenSecret"]], name)
            else:
                self.assertEqual(grants, [], name)

    def test_mail_may_leave_only_from_the_allowed_sender_domains(self):
        sends = [st for st in policies(TEMPLATE, PARAMS)["stream-consumer"] if "ses:SendEmail" in st["actions"]]
        self.assertEqual(len(sends), 1)
        self.assertEqual(sends[0]["condition"], {"StringLike": {"ses:FromAddress": ["*@example.com", "*@mail.example.com"]}})
        self.assertEqual(resolve(TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]["GATEHOUSE_ALLOWED_SENDER_DOMAINS"], PARAMS),
                         PARAMS["AllowedSenderDomains"])

    def test_the_grants_the_audit_found_unused_are_gone(self):
        self.assertFalse({"dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"} & actions("portals"))
        self.assertNotIn("dynamodb:Query", actions("registration"))
        self.assertNotIn("dynamodb:Query", actions("stream-consumer"))

    def test_only_the_sso_function_may_use_the_sso_key_and_only_under_a_provider_context(self):
        key = RESOURCES["SsoKey"]
        self.assertEqual(key["Type"], "AWS::KMS::Key")
        self.assertTrue(key["Properties"]["EnableKeyRotation"])
        for name in FUNCTIONS:
            grants = [st for st in policies(TEMPLATE, PARAMS)[name] if any(a.startswith("kms:") for a in st["actions"])]
            if name != "sso":
                self.assertEqual(grants, [], name)
                continue
            self.assertEqual(len(grants), 1)
            self.assertEqual(sorted(grants[0]["actions"]), ["kms:Decrypt", "kms:Encrypt"])
            self.assertEqual(grants[0]["resources"], ["arn:res:SsoKey"])
            self.assertEqual(grants[0]["condition"], {"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["portal_id", "idp_id"]}})

    def test_webhook_delivery_has_its_own_stream_consumer_a_queue_with_a_dead_letter_queue_and_an_alarm(self):
        fanout = FUNCTIONS["webhook-fanout"]["Properties"]
        stream = fanout["Events"]["TableStream"]["Properties"]
        consumer = FUNCTIONS["stream-consumer"]["Properties"]["Events"]["TableStream"]["Properties"]
        self.assertEqual(stream["FilterCriteria"], consumer["FilterCriteria"], "the same events as the mail consumer")
        self.assertEqual(stream["FunctionResponseTypes"], ["ReportBatchItemFailures"])
        sqs = FUNCTIONS["webhook-delivery"]["Properties"]["Events"]["DeliveryQueue"]
        self.assertEqual(sqs["Type"], "SQS")
        self.assertEqual(sqs["Properties"]["FunctionResponseTypes"], ["ReportBatchItemFailures"])
        queue = RESOURCES["WebhookDeliveryQueue"]["Properties"]
        self.assertGreaterEqual(queue["VisibilityTimeout"], 6 * FUNCTIONS["webhook-delivery"]["Properties"]["Timeout"])
        self.assertEqual(resolve(queue["RedrivePolicy"]["deadLetterTargetArn"], PARAMS), "arn:res:WebhookDeliveryDeadLetterQueue")
        alarm = RESOURCES["WebhookDeliveryDeadLetterQueueAlarm"]["Properties"]
        self.assertEqual(alarm["MetricName"], "ApproximateNumberOfMessagesVisible")

    def test_the_webhook_functions_may_only_read_put_and_update_items_query_two_indexes_and_send_to_their_queue(self):
        self.assertEqual(
            {a for a in actions("webhook-delivery") if a.startswith("dynamodb:")},
            {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"},
        )
        # The per-developer order's pending chain (gsi1) and a replay step's event feed (gsi2), never the table.
        queries = [r for st in policies(TEMPLATE, PARAMS)["webhook-delivery"] if "dynamodb:Query" in st["actions"] for r in st["resources"]]
        self.assertEqual(sorted(queries), ["arn:res:Table/index/gsi1", "arn:res:Table/index/gsi2"])
        sends = [r for st in policies(TEMPLATE, PARAMS)["webhooks"] if "sqs:SendMessage" in st["actions"] for r in st["resources"]]
        self.assertEqual(sends, ["arn:res:WebhookDeliveryQueue"], "a replay's first step")
        self.assertFalse({"dynamodb:UpdateItem", "dynamodb:DeleteItem"} & actions("webhook-fanout"))
        for name in ("webhook-fanout", "webhook-delivery"):
            sends = [r for st in policies(TEMPLATE, PARAMS)[name] if "sqs:SendMessage" in st["actions"] for r in st["resources"]]
            self.assertIn("arn:res:WebhookDeliveryQueue", sends, name)
            self.assertNotIn("*", sends, name)

    def test_the_webhook_worker_periods_are_parameters_defaulting_to_five_days_and_a_day(self):
        params = TEMPLATE["Parameters"]
        self.assertEqual(params["WebhookDisableAfterSeconds"]["Default"], 5 * 86400)
        self.assertEqual(params["WebhookRotationOverlapSeconds"]["Default"], 86400)
        delivery = FUNCTIONS["webhook-delivery"]["Properties"]["Environment"]["Variables"]
        self.assertEqual(delivery["GATEHOUSE_WEBHOOK_DISABLE_AFTER_SECONDS"], {"Ref": "WebhookDisableAfterSeconds"})
        endpoints = FUNCTIONS["webhooks"]["Properties"]["Environment"]["Variables"]
        self.assertEqual(endpoints["GATEHOUSE_WEBHOOK_ROTATION_OVERLAP_SECONDS"], {"Ref": "WebhookRotationOverlapSeconds"})


if __name__ == "__main__":
    unittest.main()
