"""infra/local/moto_server.py's patches answer exactly what stock moto answers: the memoised
dispatch computes what moto computes per request, a Query that no longer sorts the whole
table returns the items an independent sort says it must, in that order, page by page, and the
answers json.dumps makes (GetRecords, DynamoDB's item operations) are the ones moto's serialiser
makes, as are UpdateItem's with its expressions parsed once.

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


KW = {"region_name": "us-east-1", "aws_access_key_id": "x", "aws_secret_access_key": "x"}

EVERY_TYPE = {
    "s": {"S": "é ✓"}, "e": {"S": ""}, "n": {"N": "1.50"}, "neg": {"N": "-3e2"}, "b": {"B": b"\x00\x01\xff"},
    "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2.5"]}, "bs": {"BS": [b"\x02", b"\xfe\x00"]},
    "m": {"M": {"q": {"BOOL": False}, "s": {"SS": ["x"]}, "deep": {"M": {"l": {"L": [{"B": b"\x07"}, {"M": {}}]}}}}},
    "l": {"L": [{"S": "x"}, {"NULL": True}, {"N": "-3"}, {"L": []}, {"BS": [b"\x01"]}, {"M": {"k": {"NULL": True}}}]},
    "null": {"NULL": True}, "t": {"BOOL": True}, "f": {"BOOL": False}, "em": {"M": {}}, "el": {"L": []},
}


def stock_serialized():
    from moto.core.responses import BaseResponse

    return BaseResponse.serialized  # what DynamoHandler.serialized was before the patch


class DynamodbResultsAsJsonTest(unittest.TestCase):
    """Every answer DynamoDB's handler serialises is made twice, by the patch and by moto's
    serialiser, and the two must be the same: status, headers and the body's very text."""

    @classmethod
    def setUpClass(cls):
        load_patches()
        import boto3
        from moto import mock_aws
        from moto.dynamodb.responses import DynamoHandler

        from moto.core import serialize

        cls.answers = []
        patched = DynamoHandler.serialized
        cls.patched = staticmethod(patched)
        stock = stock_serialized()
        cls.serialise = serialise = serialize.ResponseSerializer.serialize
        serialised = []

        def counted(self, result):
            serialised.append(result)
            return serialise(self, result)

        def both(self, action_result):
            before = len(serialised)
            fast = patched(self, action_result)
            by_serialiser = len(serialised) > before
            cls.answers.append((self._get_action(), action_result.result, (fast[0], dict(fast[1]), fast[2]),
                                stock(self, action_result), by_serialiser))
            return fast

        DynamoHandler.serialized = both
        serialize.ResponseSerializer.serialize = counted
        cls.mock = mock_aws()
        cls.mock.start()
        cls.ddb = boto3.client("dynamodb", **KW)
        cls.ddb.create_table(
            TableName="t", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "g")],
            GlobalSecondaryIndexes=[{"IndexName": "gsi", "Projection": {"ProjectionType": "ALL"},
                                     "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}]}])
        cls.ddb.create_table(
            TableName="bin", BillingMode="PAY_PER_REQUEST", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "B"}])

    @classmethod
    def tearDownClass(cls):
        from moto.dynamodb.responses import DynamoHandler

        from moto.core import serialize

        cls.mock.stop()
        serialize.ResponseSerializer.serialize = cls.__dict__["serialise"]
        DynamoHandler.serialized = cls.__dict__["patched"].__func__

    def setUp(self):
        self.answers.clear()
        self.maxDiff = None

    def assert_same_answers(self, *operations):
        from botocore.exceptions import ClientError

        seen = set()
        for action, result, fast, stock, by_serialiser in self.answers:
            with self.subTest(action=action, result=result):
                self.assertEqual(fast, stock)
                if not isinstance(result, Exception):
                    seen.add(action)
                    self.assertFalse(by_serialiser and action in operations, "the patch answered, not moto's serialiser")
        self.assertEqual(set(operations) - seen, set(), "each of these answered at least once")
        return ClientError

    def key(self, pk, sk):
        return {"pk": {"S": pk}, "sk": {"S": sk}}

    def put_some(self, n=5):
        for i in range(n):
            self.ddb.put_item(TableName="t", Item=self.key("P", f"{i}") | EVERY_TYPE | {"g": {"S": "G"}, "i": {"N": str(i)}})

    def test_put_get_and_delete_answer_what_moto_s_serialiser_answers_for_every_kind_of_attribute(self):
        ddb, key = self.ddb, self.key("A", "1")
        ddb.put_item(TableName="t", Item=key | EVERY_TYPE)
        ddb.put_item(TableName="t", Item=key | EVERY_TYPE, ReturnValues="ALL_OLD", ReturnConsumedCapacity="TOTAL")
        ddb.put_item(TableName="t", Item=self.key("A", "new"), ReturnValues="ALL_OLD", ReturnConsumedCapacity="INDEXES")
        got = ddb.get_item(TableName="t", Key=key)["Item"]
        self.assertEqual(got["b"], {"B": b"\x00\x01\xff"})
        self.assertEqual(got["bs"], {"BS": [b"\x02", b"\xfe\x00"]})
        ddb.get_item(TableName="t", Key=key, ConsistentRead=True, ReturnConsumedCapacity="TOTAL")
        ddb.get_item(TableName="t", Key=key, ReturnConsumedCapacity="INDEXES")
        ddb.get_item(TableName="t", Key=self.key("A", "missing"))
        ddb.get_item(TableName="t", Key=self.key("A", "missing"), ReturnConsumedCapacity="TOTAL")
        ddb.get_item(TableName="t", Key=key, ProjectionExpression="#m.deep.l[0], l[1], l[5].k, bs, nothing",
                     ExpressionAttributeNames={"#m": "m"})
        ddb.get_item(TableName="t", Key=key, AttributesToGet=["s", "n", "ss"])
        ddb.delete_item(TableName="t", Key=key, ReturnValues="ALL_OLD", ReturnConsumedCapacity="TOTAL")
        ddb.delete_item(TableName="t", Key=key, ReturnValues="ALL_OLD")
        ddb.delete_item(TableName="t", Key=self.key("A", "new"))
        ddb.put_item(TableName="bin", Item={"pk": {"B": b"\xff\x00"}, "v": {"B": b""}})
        ddb.get_item(TableName="bin", Key={"pk": {"B": b"\xff\x00"}})
        self.assert_same_answers("PutItem", "GetItem", "DeleteItem")

    def test_update_item_answers_what_moto_s_serialiser_answers_for_every_return_values(self):
        ddb, key = self.ddb, self.key("U", "1")
        ddb.put_item(TableName="t", Item=key | EVERY_TYPE)
        updates = [
            ("SET n = n + :one, l = list_append(l, :l), m.deep.x = :s REMOVE e ADD ss :ss, bs :bs DELETE ns :ns",
             {":one": {"N": "1"}, ":l": {"L": [{"B": b"\x09"}]}, ":s": {"S": "y"}, ":ss": {"SS": ["z"]},
              ":bs": {"BS": [b"\x03"]}, ":ns": {"NS": ["1"]}}),
            ("ADD c :one SET #t = if_not_exists(#t, :ttl)", {":one": {"N": "1"}, ":ttl": {"N": "99"}}),
            ("SET s = :same", {":same": {"S": "é ✓"}}),
            ("REMOVE l[0], m.q", None),
        ]
        for rv in ("NONE", "ALL_OLD", "ALL_NEW", "UPDATED_OLD", "UPDATED_NEW"):
            for expression, values in updates:
                kw = {"ExpressionAttributeValues": values} if values else {}
                if "#t" in expression:
                    kw["ExpressionAttributeNames"] = {"#t": "ttl"}
                ddb.update_item(TableName="t", Key=key, UpdateExpression=expression, ReturnValues=rv, **kw)
            ddb.update_item(TableName="t", Key=self.key("U", f"new-{rv}"), UpdateExpression="ADD c :one",
                            ExpressionAttributeValues={":one": {"N": "1"}}, ReturnValues=rv, ReturnConsumedCapacity="TOTAL")
        ddb.update_item(TableName="t", Key=key, AttributeUpdates={"legacy": {"Value": {"NS": ["4"]}, "Action": "PUT"}},
                        ReturnValues="ALL_NEW")
        self.assert_same_answers("UpdateItem")

    def test_query_and_scan_answer_what_moto_s_serialiser_answers_page_by_page(self):
        ddb = self.ddb
        self.put_some()
        q = {"TableName": "t", "KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "P"}}}
        page = ddb.query(**q, Limit=2, ReturnConsumedCapacity="TOTAL")
        self.assertIn("LastEvaluatedKey", page)
        ddb.query(**q, Limit=2, ExclusiveStartKey=page["LastEvaluatedKey"], ScanIndexForward=False)
        ddb.query(**q, Select="COUNT", ReturnConsumedCapacity="INDEXES")
        ddb.query(**q, ProjectionExpression="sk, m.deep, l[2]")
        ddb.query(TableName="t", KeyConditionExpression="pk = :p AND sk > :s", FilterExpression="i > :i",
                  ExpressionAttributeValues={":p": {"S": "P"}, ":s": {"S": "1"}, ":i": {"N": "2"}})
        ddb.query(TableName="t", IndexName="gsi", KeyConditionExpression="g = :g", ExpressionAttributeValues={":g": {"S": "G"}},
                  Limit=3, ReturnConsumedCapacity="INDEXES")
        ddb.query(TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "none"}})
        ddb.scan(TableName="t")
        page = ddb.scan(TableName="t", Limit=1, ReturnConsumedCapacity="TOTAL")
        ddb.scan(TableName="t", Limit=2, ExclusiveStartKey=page["LastEvaluatedKey"], FilterExpression="attribute_exists(ss)")
        ddb.scan(TableName="t", IndexName="gsi", Select="COUNT")
        for k in (b"\x01", b"\x02\x00", b"\xff"):
            ddb.put_item(TableName="bin", Item={"pk": {"B": k}, "bs": {"BS": [k]}})
        page = ddb.scan(TableName="bin", Limit=1)
        self.assertIsInstance(page["LastEvaluatedKey"]["pk"]["B"], bytes)
        ddb.scan(TableName="bin", ExclusiveStartKey=page["LastEvaluatedKey"])
        ddb.scan(TableName="bin", FilterExpression="pk = :none", ExpressionAttributeValues={":none": {"B": b"\x00"}})
        self.assert_same_answers("Query", "Scan")

    def test_batches_and_transactions_answer_what_moto_s_serialiser_answers(self):
        ddb = self.ddb
        self.put_some(3)
        keys = [self.key("P", "0"), self.key("P", "2"), self.key("P", "missing")]
        ddb.batch_get_item(RequestItems={"t": {"Keys": keys}, "bin": {"Keys": [{"pk": {"B": b"\x05"}}]}})
        ddb.batch_get_item(RequestItems={"t": {"Keys": keys[:1], "ProjectionExpression": "#s, bs", "ExpressionAttributeNames": {"#s": "s"}}},
                           ReturnConsumedCapacity="TOTAL")
        ddb.batch_write_item(RequestItems={"t": [{"PutRequest": {"Item": self.key("W", "1") | EVERY_TYPE}},
                                                 {"DeleteRequest": {"Key": keys[1]}}],
                                           "bin": [{"PutRequest": {"Item": {"pk": {"B": b"\x05"}}}}]})
        ddb.transact_get_items(TransactItems=[{"Get": {"TableName": "t", "Key": k}} for k in keys])
        ddb.transact_get_items(TransactItems=[{"Get": {"TableName": "t", "Key": keys[0]}}], ReturnConsumedCapacity="TOTAL")
        ddb.transact_get_items(TransactItems=[{"Get": {"TableName": "bin", "Key": {"pk": {"B": b"\x05"}}}}],
                               ReturnConsumedCapacity="INDEXES")
        ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": "t", "Item": self.key("X", "1") | EVERY_TYPE}},
            {"Update": {"TableName": "t", "Key": keys[0], "UpdateExpression": "ADD c :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}},
            {"Delete": {"TableName": "t", "Key": self.key("W", "1")}},
            {"ConditionCheck": {"TableName": "bin", "Key": {"pk": {"B": b"\x05"}}, "ConditionExpression": "attribute_exists(pk)"}}])
        self.assert_same_answers("BatchGetItem", "BatchWriteItem", "TransactGetItems", "TransactWriteItems")

    def over_http(self, operation, body):
        """An answer of moto's server app: status, headers (but the request id) and body."""
        import base64
        import json

        from moto.server import create_backend_app

        if not hasattr(type(self), "client"):
            type(self).client = create_backend_app("dynamodb").test_client()
        headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": f"DynamoDB_20120810.{operation}",
                   "Authorization": "AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=x"}
        answer = self.client.post("/", data=json.dumps(body, default=lambda b: base64.b64encode(b).decode()), headers=headers)
        return answer.status_code, {k: v for k, v in answer.headers.items() if k.lower() != "x-amzn-requestid"}, answer.data

    def test_errors_are_moto_s_own_answers(self):
        from unittest import mock

        from moto.dynamodb.responses import DynamoHandler

        self.ddb.put_item(TableName="t", Item=self.key("E", "1") | {"v": {"N": "1"}})
        key = self.key("E", "1")
        self.answers.clear()
        failures = [
            ("PutItem", {"TableName": "t", "Item": key, "ConditionExpression": "attribute_not_exists(pk)",
                         "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}),
            ("UpdateItem", {"TableName": "t", "Key": key, "UpdateExpression": "SET v = v + :x",
                            "ExpressionAttributeValues": {":x": {"S": "a"}}}),
            ("UpdateItem", {"TableName": "t", "Key": key, "UpdateExpression": "SET v = :x"}),
            ("DeleteItem", {"TableName": "t", "Key": key, "ConditionExpression": "v = :two",
                            "ExpressionAttributeValues": {":two": {"N": "2"}}}),
            ("GetItem", {"TableName": "nope", "Key": key}),
            ("GetItem", {"TableName": "t", "Key": {"pk": {"S": "E"}}}),
            ("Query", {"TableName": "t", "KeyConditionExpression": "sk = :s", "ExpressionAttributeValues": {":s": {"S": "1"}}}),
            ("Scan", {"TableName": "nope"}),
            ("TransactWriteItems", {"TransactItems": [{"Put": {"TableName": "t", "Item": key,
                                                               "ConditionExpression": "attribute_not_exists(pk)"}}]}),
            ("BatchGetItem", {"RequestItems": {"t": {"Keys": [key, key]}}}),
            ("BatchWriteItem", {"RequestItems": {"t": [{"PutRequest": {"Item": key}}, {"PutRequest": {"Item": key}}]}}),
            ("TransactGetItems", {"TransactItems": [{"Get": {"TableName": "nope", "Key": key}}]}),
        ]
        fast = [self.over_http(*failure) for failure in failures]
        with mock.patch.object(DynamoHandler, "serialized", stock_serialized()):
            stock = [self.over_http(*failure) for failure in failures]
        self.assertEqual(fast, stock)
        for (status, headers, body), (operation, _) in zip(fast, failures):
            self.assertGreaterEqual(status, 400, operation)
            self.assertIn(b"__type", body)
        self.assertIn(b"ConditionalCheckFailedException", fast[0][2])
        self.assertIn(b"TransactionCanceledException", fast[8][2])
        # moto's DynamoDB errors are HTTPExceptions, answered by call_action without serialized;
        # one that came through it would be moto's answer all the same.
        for _, result, fast_answer, stock_answer, _ in self.answers:
            self.assertIsInstance(result, Exception)
            self.assertEqual(fast_answer, stock_answer)

    def test_results_moto_does_not_make_answer_what_the_serialiser_answers_or_raises(self):
        from moto.core.responses import ActionResult
        from moto.dynamodb.responses import DynamoHandler, DynamoResult

        av = {"S": "x"}
        odd = {
            "GetItem": [
                {}, None, {"Item": None}, {"Item": {}}, {"ConsumedCapacity": {"TableName": "t", "CapacityUnits": 1}},
                {"Item": {"a": {"s": "lower"}, "b": {"string_set_attribute_value": ["x"], "SS": ["y"]},
                          "c": {"StringSetAttributeValue": ["first"], "SS": ["second"]}, "d": {"N": 5, "S": None},
                          "e": {"B": "text as utf-8"}, "f": {"B": bytearray(b"\x01")}, "g": {"L": [None, av]},
                          "h": {"M": {"x": None, "y": av}}, "i": {"SS": []}, "j": {"BOOL": 0}, "k": {}}},
                {"Item": {"a": av}, "Extra": 1, "consumed_capacity": {"CapacityUnits": 2}},
                {"Item": {"a": {"SS": ("tuple",)}}}, {"Item": {"a": {"SS": {"set"}}}},
                {"Item": {"a": {"S": b"bytes"}}}, {"Item": {"a": {"B": 7}}}, {"Item": {"a": {"L": None}}},
                {"ConsumedCapacity": {"CapacityUnits": "x"}}, {"Item": [av]}, {"Item": {"a": object()}},
            ],
            "Query": [{"Items": [], "Count": 0, "ScannedCount": 0}, {"ItemList": [{"a": av}], "Items": [], "Count": "3"},
                      {"Items": [None, {"a": av}], "count": 2, "LastEvaluatedKey": {"pk": {"B": b"\x00"}}}],
            "BatchGetItem": [{"Responses": {"t": [{"a": av}], "u": []}, "UnprocessedKeys": {"t": {"Keys": [{"pk": av}],
                              "ProjectionExpression": "a", "ConsistentRead": True}}, "ConsumedCapacity": [{"CapacityUnits": 3}]}],
            "BatchWriteItem": [{"UnprocessedItems": {"t": [{"PutRequest": {"Item": {"a": av}}}, {"DeleteRequest": {"Key": {"pk": av}}}]},
                                "ItemCollectionMetrics": {"t": [{"ItemCollectionKey": {"pk": av}, "SizeEstimateRangeGB": [0, 1.5]}]},
                                "ConsumedCapacity": [{"TableName": "t", "CapacityUnits": 1, "Table": {"CapacityUnits": 1},
                                                      "GlobalSecondaryIndexes": {"g": {"ReadCapacityUnits": 2}}}]}],
            "UpdateItem": [{"Attributes": {"a": av}, "ItemCollectionMetrics": {"ItemCollectionKey": {}, "SizeEstimateRangeGB": []}}],
            "TransactGetItems": [{"Responses": [{}, {"Item": {"a": av}}, None]}],
            "TransactWriteItems": [{"ConsumedCapacity": [], "ItemCollectionMetrics": {}}],
        }
        handler = DynamoHandler()
        handler.querystring, handler.response_headers = {}, {"server": "amazon.com"}
        stock = stock_serialized()
        for action, results in odd.items():
            handler.headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": f"DynamoDB_20120810.{action}"}
            for result in results:
                for wrapper in (ActionResult, DynamoResult):
                    with self.subTest(action=action, result=result, wrapper=wrapper.__name__):
                        answers = []
                        for serialized in (DynamoHandler.serialized, stock):
                            try:
                                answers.append(serialized(handler, wrapper(result)))
                            except Exception as e:
                                answers.append(type(e))
                        self.assertEqual(answers[0], answers[1])

    def test_a_get_item_does_not_go_through_moto_s_serialiser_and_a_describe_table_still_does(self):
        from unittest import mock

        from moto.core import serialize

        self.ddb.put_item(TableName="t", Item=self.key("F", "1") | EVERY_TYPE)
        calls = []
        original = serialize.ResponseSerializer.serialize

        def counted(self, result):
            calls.append(result)
            return original(self, result)

        from moto.dynamodb.responses import DynamoHandler

        with mock.patch.object(serialize.ResponseSerializer, "serialize", counted), \
                mock.patch.object(DynamoHandler, "serialized", self.patched):  # not the comparing wrapper
            self.assertEqual(self.ddb.get_item(TableName="t", Key=self.key("F", "1"))["Item"]["s"], {"S": "é ✓"})
            self.ddb.update_item(TableName="t", Key=self.key("F", "1"), UpdateExpression="ADD c :one",
                                 ExpressionAttributeValues={":one": {"N": "1"}}, ReturnValues="UPDATED_NEW")
            self.assertEqual(calls, [], "GetItem's and UpdateItem's answers are json.dumps'")
            self.ddb.describe_table(TableName="t")
            self.assertEqual(len(calls), 1, "DescribeTable's answer is the serialiser's")

    def test_over_http_the_answer_and_its_crc32_header_are_stock_moto_s(self):
        import binascii
        import json
        from unittest import mock

        from moto.dynamodb.responses import DynamoHandler

        self.ddb.put_item(TableName="t", Item=self.key("C", "1") | EVERY_TYPE)
        calls = [("GetItem", {"TableName": "t", "Key": self.key("C", "1")}),
                 ("GetItem", {"TableName": "t", "Key": self.key("C", "missing")}),
                 ("Query", {"TableName": "t", "KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "C"}}}),
                 ("PutItem", {"TableName": "t", "Item": self.key("C", "1") | EVERY_TYPE, "ReturnValues": "ALL_OLD"})]
        fast = [self.over_http(*call) for call in calls]
        with mock.patch.object(DynamoHandler, "serialized", stock_serialized()):
            stock = [self.over_http(*call) for call in calls]
        self.assertEqual(fast, stock)
        for status, headers, body in fast:
            self.assertEqual(status, 200)
            self.assertEqual(headers["x-amz-crc32"], str(binascii.crc32(body)))
            self.assertEqual(headers["Content-Type"], "application/x-amz-json-1.0")
        self.assertEqual(json.loads(fast[1][2]), {})
        self.assertEqual(json.loads(fast[0][2])["Item"]["b"], {"B": "AAH/"})
        self.assertTrue(self.answers)
        for _, result, fast_answer, stock_answer, _ in self.answers:
            self.assertEqual(fast_answer, stock_answer)


class UpdateExpressionsParsedOnceTest(unittest.TestCase):
    EXPRESSIONS = [
        "ADD #n :one SET #t = if_not_exists(#t, :ttl)",
        "SET a.b[2].c = list_append(:x, a.l), d = d + :one, e = :v - f REMOVE g[1], h DELETE s :ss ADD q :q",
        "REMOVE l[0], l[3], m.x", "SET #a = :a, #b=:b", "  SET x = :x  ",
    ]

    def shape(self, node, index):
        """A tree as (type, children) with each node's parent as an index, to compare two trees."""
        from moto.dynamodb.parsing.ast_nodes import Node

        if not isinstance(node, Node):
            return repr(node)
        index.setdefault(id(node), len(index))
        children = [self.shape(c, index) for c in node.children or []]
        return (type(node).__name__, node.type, index.get(id(node.parent)), children)

    def nodes(self, node):
        from moto.dynamodb.parsing.ast_nodes import Node

        found = {id(node)} | {id(node.children)} if isinstance(node.children, list) else {id(node)}
        for child in node.children or []:
            if isinstance(child, Node):
                found |= self.nodes(child)
        return found

    def test_a_second_parse_is_a_copy_of_the_first_with_nothing_shared(self):
        load_patches()
        from moto.dynamodb.parsing.expressions import UpdateExpressionParser

        fresh = UpdateExpressionParser.make.__wrapped__
        for expression in self.EXPRESSIONS + ["SET only = :once"]:
            with self.subTest(expression=expression):
                first, second, third = (UpdateExpressionParser.make(expression) for _ in range(3))
                want = self.shape(fresh(UpdateExpressionParser, expression), {})
                for tree in (first, second, third):
                    self.assertEqual(self.shape(tree, {}), want)
                self.assertEqual(self.nodes(first) & self.nodes(second), set())
                self.assertEqual(self.nodes(second) & self.nodes(third), set())

    def test_an_expression_that_does_not_parse_raises_every_time(self):
        load_patches()
        from moto.dynamodb.parsing.expressions import UpdateExpressionParser

        for _ in range(2):
            with self.assertRaises(Exception) as raised:
                UpdateExpressionParser.make("SET a = ")
            self.assertIn("Invalid UpdateExpression", str(raised.exception))

    def run_updates(self):
        """Answers of a run of UpdateItems, each expression repeated, on a fresh moto."""
        import boto3
        from botocore.exceptions import ClientError
        from moto import mock_aws

        out = []
        with mock_aws():
            ddb = boto3.client("dynamodb", **KW)
            ddb.create_table(TableName="t", BillingMode="PAY_PER_REQUEST", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                             AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
            ddb.put_item(TableName="t", Item={"pk": {"S": "a"}, **EVERY_TYPE, "a": {"M": {"b": {"L": [{"N": "0"}] * 4}, "l": {"L": []}}},
                                              "g": {"L": [{"S": "0"}, {"S": "1"}]}, "h": {"S": "h"}, "f": {"N": "7"}, "d": {"N": "1"}})
            def values(r):  # new values every round: a tree that kept the last round's would answer those
                return {":one": {"N": str(r + 1)}, ":ttl": {"N": f"9{r}"}, ":x": {"L": [{"S": f"x{r}"}]}, ":v": {"N": f"1{r}"},
                        ":ss": {"SS": ["a"]}, ":q": {"NS": [str(4 + r)]}, ":a": {"S": f"A{r}"}, ":b": {"BOOL": r % 2 == 0}}

            calls = [
                ("ADD #n :one SET #t = if_not_exists(#t, :ttl)", {"#n": "n", "#t": "ttl"}, [":one", ":ttl"]),
                ("SET a.b[2].c = list_append(:x, a.l), d = d + :one, e = :v - f REMOVE g[1], h DELETE ss :ss ADD q :q", None,
                 [":x", ":one", ":v", ":ss", ":q"]),
                ("SET #a = :a, #b=:b", {"#a": "s", "#b": "t"}, [":a", ":b"]),
                ("REMOVE l[0], l[3], m.q", None, []),
                ("SET #a = :a, #b=:b", {"#a": "s", "#b": "t"}, [":a"]),  # a value missing: moto's error
                ("SET d = d + :a", None, [":a"]),  # a number plus a string: moto's error
            ]
            for r in range(3):
                for pk in ("a", f"new{r}", "new"):
                    for expression, names, used in calls:
                        kw = {"ExpressionAttributeNames": names} if names else {}
                        if used:
                            kw["ExpressionAttributeValues"] = {k: values(r)[k] for k in used}
                        try:
                            answer = ddb.update_item(TableName="t", Key={"pk": {"S": pk}}, UpdateExpression=expression,
                                                     ReturnValues="ALL_NEW", **kw)
                            answer.pop("ResponseMetadata")
                        except ClientError as e:
                            answer = e.response["Error"]
                        out.append(answer)
            out.append(sorted(ddb.scan(TableName="t")["Items"], key=lambda i: i["pk"]["S"]))
        return out

    def test_update_items_answer_the_same_with_and_without_the_parsed_expressions_kept(self):
        load_patches()
        from moto.dynamodb.parsing.expressions import UpdateExpressionParser

        kept = UpdateExpressionParser.__dict__["make"]
        with_cache = self.run_updates()
        UpdateExpressionParser.make = classmethod(kept.__func__.__wrapped__)
        try:
            without = self.run_updates()
        finally:
            UpdateExpressionParser.make = kept
        self.maxDiff = None
        self.assertEqual(with_cache, without)
        self.assertTrue(any("Code" in a for a in with_cache[:-1]) and any("Attributes" in a for a in with_cache[:-1]))


if __name__ == "__main__":
    unittest.main()


class ItemsSizedOnceTest(unittest.TestCase):
    """An item built with its size checked once holds what moto's per-attribute check builds,
    and exactly the items moto refuses are refused, with moto's error."""

    def build(self, init, attrs):
        from moto.dynamodb.models.dynamo_type import DynamoType, Item

        item = Item.__new__(Item)
        init(item, DynamoType({"S": "h"}), None, attrs)
        return item

    def test_an_item_holds_the_attributes_moto_s_check_builds_in_the_same_order(self):
        load_patches()
        from moto.dynamodb.models.dynamo_type import Item, LimitedSizeDict

        attrs = {f"a{i}": v for i, v in enumerate(EVERY_TYPE.values())} | {"z": {"S": "last"}, "b": {"N": "1"}}
        fast, stock = self.build(Item.__init__, attrs), self.build(Item.__init__.__wrapped__, attrs)
        self.assertIsNot(Item.__init__, Item.__init__.__wrapped__, "the patch is applied")
        self.assertIsInstance(fast.attrs, LimitedSizeDict)
        self.assertEqual(list(fast.attrs.items()), list(stock.attrs.items()))
        self.assertEqual(fast.to_json(), stock.to_json())

    def test_the_items_moto_refuses_for_their_size_are_refused_and_the_ones_just_under_are_not(self):
        load_patches()
        from moto.dynamodb.exceptions import ItemSizeTooLarge
        from moto.dynamodb.models.dynamo_type import Item

        # Two attributes, their names of one byte: a + 200,000 + b + x fits when x <= 204,998.
        for last, refused in ((204_998, False), (204_999, True), (300_000, True)):
            attrs = {"a": {"S": "x" * 200_000}, "b": {"S": "y" * last}}
            for init in (Item.__init__, Item.__init__.__wrapped__):
                with self.subTest(size=last, init=init.__name__, stock=init is Item.__init__.__wrapped__):
                    if refused:
                        with self.assertRaises(ItemSizeTooLarge):
                            self.build(init, attrs)
                    else:
                        self.assertEqual(self.build(init, attrs).attrs["b"].value, "y" * last)
        # A later single-attribute set (an update) is still moto's check.
        item = self.build(Item.__init__, {"a": {"S": "x" * 200_000}})
        from moto.dynamodb.models.dynamo_type import DynamoType

        with self.assertRaises(ItemSizeTooLarge):
            item.attrs["b"] = DynamoType({"S": "y" * 210_000})
