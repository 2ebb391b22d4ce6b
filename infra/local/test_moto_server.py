"""infra/local/moto_server.py's patches answer exactly what stock moto answers: the memoised
dispatch computes what moto computes per request, and a Query that no longer sorts the whole
table returns the items an independent sort says it must, in that order, page by page.

    python3 -m unittest infra/local/test_moto_server.py
"""

import importlib.util
import inspect
import os
import re
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


def stock_method_names(clazz):
    return [name for name, _ in inspect.getmembers(clazz, predicate=inspect.isfunction)]


def stock_modules():
    import moto

    path = os.path.dirname(moto.__file__)
    return [b for b in sorted(os.listdir(path)) if os.path.isdir(os.path.join(path, b)) and not b.startswith("__")]


def load_patches():
    """Imports moto_server.py once: its patches are applied at import."""
    if "gatehouse_moto_server" not in sys.modules:
        spec = importlib.util.spec_from_file_location("gatehouse_moto_server", os.path.join(HERE, "moto_server.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules["gatehouse_moto_server"] = module
        spec.loader.exec_module(module)
    return sys.modules["gatehouse_moto_server"]


class MemoisedDispatchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        load_patches()

    def test_a_handlers_method_names_are_the_ones_inspect_finds_and_are_computed_once(self):
        from moto.core import responses
        from moto.dynamodb.responses import DynamoHandler
        from moto.sesv2.responses import SESV2Response

        for handler in (DynamoHandler, SESV2Response):
            names = responses.method_names_from_class(handler)
            self.assertEqual(set(names), set(stock_method_names(handler)))
            self.assertIn("get_item" if handler is DynamoHandler else "send_email", names)
            self.assertIs(responses.method_names_from_class(handler), names, "the second lookup is the cached answer")

    def test_the_service_packages_are_the_ones_listed_on_disk(self):
        from moto import backends

        self.assertEqual(list(backends.list_of_moto_modules()), stock_modules())
        self.assertIn("dynamodb", backends.list_of_moto_modules())
        self.assertIn("sesv2", backends.list_of_moto_modules())

    def test_a_request_id_has_moto_s_length_and_alphabet_and_is_new_every_time(self):
        from moto.core import responses

        headers = {}
        ids = {responses.gen_amzn_requestid_long(headers) for _ in range(200)}
        self.assertEqual(len(ids), 200)
        for req_id in ids:
            self.assertRegex(req_id, re.compile(r"^[A-Za-z0-9]{52}$"))
        self.assertIn(headers["x-amzn-requestid"], ids)


class QueriesWithoutATableSortTest(unittest.TestCase):
    """In-process moto (mock_aws) with moto_server.py's patches loaded."""

    @classmethod
    def setUpClass(cls):
        load_patches()
        import random

        import boto3
        from moto import mock_aws

        cls.mock = mock_aws()
        cls.mock.start()
        cls.ddb = boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        cls.ddb.create_table(
            TableName="t", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "g", "gs")],
            GlobalSecondaryIndexes=[{"IndexName": "gsi1", "Projection": {"ProjectionType": "ALL"},
                                     "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}, {"AttributeName": "gs", "KeyType": "RANGE"}]}],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        cls.ddb.create_table(
            TableName="h", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        )
        rng = random.Random(7)
        cls.items = []
        for p in ("P#1", "P#2", "P#3"):
            for i in range(40):
                item = {"pk": p, "sk": f"S#{rng.randrange(1000):04d}#{i}"}
                if i % 3:  # a third of the items are not in the index
                    item |= {"g": f"G#{i % 2}", "gs": f"{rng.randrange(5)}"}  # equal index sort keys: the table key decides
                cls.items.append(item)
        rng.shuffle(cls.items)
        for item in cls.items:
            cls.ddb.put_item(TableName="t", Item={k: {"S": v} for k, v in item.items()})
        for k in ("a", "b", "c"):
            cls.ddb.put_item(TableName="h", Item={"pk": {"S": k}})

    @classmethod
    def tearDownClass(cls):
        cls.mock.stop()

    def pages(self, limit, **kw):
        out, start = [], None
        while True:
            page = self.ddb.query(TableName="t", Limit=limit, **kw, **({"ExclusiveStartKey": start} if start else {}))
            out += [{k: v["S"] for k, v in i.items()} for i in page["Items"]]
            start = page.get("LastEvaluatedKey")
            if not start:
                return out

    def test_a_partition_s_items_come_in_key_order_both_ways_and_page_by_page(self):
        want = sorted((i for i in self.items if i["pk"] == "P#2"), key=lambda i: i["sk"])
        kw = {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "P#2"}}}
        self.assertEqual(self.pages(1000, **kw), want)
        self.assertEqual(self.pages(7, **kw), want)
        self.assertEqual(self.pages(7, ScanIndexForward=False, **kw), want[::-1])
        prefix = {"KeyConditionExpression": "pk = :p AND begins_with(sk, :s)",
                  "ExpressionAttributeValues": {":p": {"S": "P#2"}, ":s": {"S": "S#0"}}}
        self.assertEqual(self.pages(3, **prefix), [i for i in want if i["sk"].startswith("S#0")])
        none = {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "P#9"}}}
        self.assertEqual(self.pages(5, **none), [])

    def test_an_index_s_items_come_in_index_order_then_table_key_order_page_by_page(self):
        want = sorted((i for i in self.items if i.get("g") == "G#1"), key=lambda i: (i["gs"], i["pk"], i["sk"]))
        kw = {"IndexName": "gsi1", "KeyConditionExpression": "g = :g", "ExpressionAttributeValues": {":g": {"S": "G#1"}}}
        self.assertGreater(len(want), 20)
        self.assertEqual(self.pages(1000, **kw), want)
        self.assertEqual(self.pages(4, **kw), want)
        self.assertEqual(self.pages(4, ScanIndexForward=False, **kw), want[::-1])

    def test_a_table_without_a_sort_key_answers_the_one_item_of_the_partition(self):
        page = self.ddb.query(TableName="h", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "b"}})
        self.assertEqual(page["Items"], [{"pk": {"S": "b"}}])
        page = self.ddb.query(TableName="h", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "z"}})
        self.assertEqual(page["Items"], [])

    def test_a_scan_still_sees_every_item(self):
        self.assertEqual(self.ddb.scan(TableName="t", Select="COUNT")["Count"], len(self.items))


class ModelDataOfOneServiceTest(unittest.TestCase):
    def test_data_json_for_one_service_is_that_service_s_part_of_the_whole_answer(self):
        load_patches()
        import json

        import boto3
        from moto import mock_aws
        from moto.moto_api._internal.responses import MotoAPIResponse

        with mock_aws():
            kw = {"region_name": "us-east-1", "aws_access_key_id": "x", "aws_secret_access_key": "x"}
            ses = boto3.client("sesv2", **kw)
            ses.create_email_identity(EmailIdentity="a@x.example")
            ses.send_email(FromEmailAddress="a@x.example", Destination={"ToAddresses": ["b@y.example"]},
                           Content={"Simple": {"Subject": {"Data": "hi"}, "Body": {"Text": {"Data": "t"}}}})
            boto3.client("sqs", **kw).create_queue(QueueName="q")
            url = "http://localhost:5000/moto-api/data.json"
            _, _, whole = MotoAPIResponse().model_data(None, url, {})
            _, _, one = MotoAPIResponse().model_data(None, url + "?service=ses", {})
        whole, one = json.loads(whole), json.loads(one)
        self.assertIn("sqs", whole)
        self.assertEqual(list(one), ["ses"])
        self.assertEqual(one["ses"], whole["ses"])
        self.assertEqual([m["destinations"]["ToAddresses"] for m in one["ses"]["Message"]][-1:], [["b@y.example"]])


class StreamRecordsAsJsonTest(unittest.TestCase):
    def test_get_records_answers_what_moto_s_serialiser_answers_for_every_kind_of_attribute(self):
        load_patches()
        import json

        import boto3
        from moto import mock_aws
        from moto.core.responses import ActionResult
        from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

        answers = []
        patched = DynamoDBStreamsHandler.get_records

        def both(self):
            fast = patched(self)
            stock = self.serialized(ActionResult(self.backend.get_records(self._get_param("ShardIterator"), 1000)))
            answers.append((fast, stock))
            return fast

        kw = {"region_name": "us-east-1", "aws_access_key_id": "x", "aws_secret_access_key": "x"}
        DynamoDBStreamsHandler.get_records = both
        try:
            with mock_aws():
                ddb = boto3.client("dynamodb", **kw)
                ddb.create_table(
                    TableName="t", BillingMode="PAY_PER_REQUEST",
                    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                    AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
                    StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
                key = {"pk": {"S": "a"}, "sk": {"S": "b"}}
                ddb.put_item(TableName="t", Item=key | {
                    "n": {"N": "1.50"}, "b": {"B": b"\x00\x01\xff"}, "l": {"L": [{"S": "x"}, {"NULL": True}, {"N": "-3"}]},
                    "m": {"M": {"q": {"BOOL": False}, "s": {"SS": ["a", "b"]}}}, "ns": {"NS": ["1", "2.5"]}, "bs": {"BS": [b"\x02"]},
                    "u": {"S": "é ✓"}})
                ddb.update_item(TableName="t", Key=key, UpdateExpression="SET n = :v REMOVE b", ExpressionAttributeValues={":v": {"N": "2"}})
                ddb.delete_item(TableName="t", Key=key)
                streams = boto3.client("dynamodbstreams", **kw)
                arn = ddb.describe_table(TableName="t")["Table"]["LatestStreamArn"]
                shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
                it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
                records = streams.get_records(ShardIterator=it)["Records"]
        finally:
            DynamoDBStreamsHandler.get_records = patched
        self.assertEqual([r["eventName"] for r in records], ["INSERT", "MODIFY", "REMOVE"])
        self.assertEqual(records[0]["dynamodb"]["NewImage"]["b"], {"B": b"\x00\x01\xff"})
        (fast, stock), = answers
        body, headers = fast
        fast_answer, stock_answer = json.loads(body), json.loads(stock[2])
        self.assertTrue(fast_answer.pop("NextShardIterator") and stock_answer.pop("NextShardIterator"), "both go on")
        self.maxDiff = None
        self.assertEqual(fast_answer, stock_answer)
        self.assertEqual(headers["Content-Type"], stock[1]["Content-Type"])


if __name__ == "__main__":
    unittest.main()
