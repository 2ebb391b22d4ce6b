"""End-to-end test of infra/local/sidecar.py against a real moto server.

    python -m unittest infra/local/test_sidecar.py      (from /work/main)
    python infra/local/test_sidecar.py

Needs boto3 and moto[server]. Starts moto and the sidecar as subprocesses on free
ports, fakes `cargo lambda watch` with an in-process HTTP server, and is bounded
in time (a watchdog kills everything after WATCHDOG_SECONDS).
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3

HERE = Path(__file__).resolve().parent
SIDECAR = HERE / "sidecar.py"
TABLE = "gatehouse-test"
FUNCTION = "stream-consumer"
DLQ = "test-stream-dlq"
MAX_RETRIES = 2
WATCHDOG_SECONDS = 60
_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(cond, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    last_exc = None
    while time.monotonic() < deadline:
        try:
            v = cond()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - polling
            last_exc = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error: {last_exc!r})")


def http_get(url: str, timeout: float = 5.0):
    with _HTTP.open(url, timeout=timeout) as r:
        return r.status, r.read().decode()


class FakeLambda:
    """Stands in for `cargo lambda watch`: records every batch it gets and fails
    chosen records. Records are identified by their `pk`."""

    def __init__(self, poison: str = "", flaky: str = "", crash_once: str = "", crash_always: str = "",
                 port: int | None = None):
        self.poison, self.flaky, self.crash_once, self.crash_always = poison, flaky, crash_once, crash_always
        self.lock = threading.Lock()
        self.deliveries: list[dict] = []  # {"pks": [...], "failed": [...], "status": int, "records": [...]}
        self.seen: dict[str, int] = {}
        self.paths: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status, payload = fake.handle(self.path, json.loads(body))
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", port or free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()

    def handle(self, path: str, event: dict):
        recs = event["Records"]
        pks = [r["dynamodb"]["Keys"]["pk"]["S"] for r in recs]
        with self.lock:
            self.paths.append(path)
            first_time = {pk: pk not in self.seen for pk in pks}
            for pk in pks:
                self.seen[pk] = self.seen.get(pk, 0) + 1
            if (self.crash_once in pks and first_time[self.crash_once]) or self.crash_always in pks:
                self.deliveries.append({"pks": pks, "failed": pks, "status": 500, "records": recs})
                return 500, {"errorType": "Panic", "errorMessage": "boom"}
            failed = [r["dynamodb"]["SequenceNumber"] for r, pk in zip(recs, pks)
                      if pk == self.poison or (pk == self.flaky and first_time[pk])]
            failed_pks = [pk for pk in pks if pk == self.poison or (pk == self.flaky and first_time[pk])]
            self.deliveries.append({"pks": pks, "failed": failed_pks, "status": 200, "records": recs})
        return 200, {"batchItemFailures": [{"itemIdentifier": s} for s in failed]}

    def handled_order(self) -> list[str]:
        """pks in the order they were first successfully handled. A record counts as
        handled in a 200 response when neither it nor an earlier record of the same
        batch failed (Lambda re-sends everything from the lowest failure)."""
        order: list[str] = []
        with self.lock:
            for d in self.deliveries:
                if d["status"] != 200:
                    continue
                for pk in d["pks"]:
                    if pk in d["failed"]:
                        break
                    if pk not in order:
                        order.append(pk)
        return order

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class SidecarTest(unittest.TestCase):
    procs: list[subprocess.Popen] = []

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="sidecar-test-")
        tmp = Path(cls.tmp.name)
        cls.watchdog = threading.Timer(WATCHDOG_SECONDS, cls._watchdog_fired)
        cls.watchdog.daemon = True
        cls.watchdog.start()

        cls.env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                   "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "NO_PROXY": "127.0.0.1,localhost"}
        cls.env.pop("AWS_PROFILE", None)
        moto_port = free_port()
        cls.endpoint = f"http://127.0.0.1:{moto_port}"
        cls.moto_log = open(tmp / "moto.log", "wb")
        cls.procs.append(subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)],
            stdout=cls.moto_log, stderr=subprocess.STDOUT, env=cls.env))
        wait_until(lambda: http_get(cls.endpoint + "/moto-api/data.json")[0] == 200, 30, "moto server")

        kw = dict(endpoint_url=cls.endpoint, region_name="us-east-1",
                  aws_access_key_id="testing", aws_secret_access_key="testing")
        cls.ddb = boto3.client("dynamodb", **kw)
        cls.sqs = boto3.client("sqs", **kw)
        cls.ses = boto3.client("sesv2", **kw)
        cls.ddb.create_table(
            TableName=TABLE, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "sk", "AttributeType": "S"}],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
        cls.stream_arn = cls.ddb.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]

        cls.fake = FakeLambda(poison="e-poison", flaky="e-flaky", crash_once="e-crash")
        cls.state_dir = tmp / "state"
        cls.mailbox_port = free_port()
        cls.mailbox = f"http://127.0.0.1:{cls.mailbox_port}"

        # Items written before the pump starts (read from TRIM_HORIZON) ...
        cls.put("e-1", kind="event")
        cls.put("n-1", kind="audit")  # not an event: filtered
        cls.put("e-flaky", kind="event")  # fails on its first delivery only
        cls.put("e-1", kind="event", extra={"v": {"N": "2"}})  # MODIFY: filtered
        cls.put("e-poison", kind="event")  # always fails
        cls.put("e-bin", kind="event", extra={
            "blob": {"B": b"\x00\x01\xff"}, "n": {"N": "1.5"}, "ss": {"SS": ["a", "b"]},
            "bs": {"BS": [b"x"]}, "m": {"M": {"l": {"L": [{"BOOL": True}, {"NULL": True}, {"N": "7"}]}}}})
        cls.put("e-2", kind="event")
        cls.ddb.delete_item(TableName=TABLE, Key={"pk": {"S": "n-1"}, "sk": {"S": "0"}})  # REMOVE: filtered
        cls.put("x-1")  # no kind attribute: filtered

        cls.sidecar_log = open(tmp / "sidecar.log", "wb")
        cls.sidecar = subprocess.Popen(
            [sys.executable, str(SIDECAR)], stdout=cls.sidecar_log, stderr=subprocess.STDOUT,
            env={**cls.env, "AWS_ENDPOINT_URL": cls.endpoint, "GATEHOUSE_TABLE": TABLE,
                 "GATEHOUSE_INVOKE_URL": cls.fake.url, "GATEHOUSE_STREAM_FUNCTION": FUNCTION,
                 "GATEHOUSE_STREAM_MAX_RETRIES": str(MAX_RETRIES), "GATEHOUSE_STREAM_BATCH_SIZE": "10",
                 "GATEHOUSE_DLQ_NAME": DLQ, "GATEHOUSE_STATE_DIR": str(cls.state_dir),
                 "GATEHOUSE_MAILBOX_PORT": str(cls.mailbox_port)})
        cls.procs.append(cls.sidecar)

        # ... and items written while it runs.
        wait_until(lambda: cls.fake.deliveries, 20, "first delivery")
        cls.put("e-3", kind="event")
        cls.put("e-crash", kind="event")  # first invoke containing it answers HTTP 500
        cls.put("e-4", kind="event")
        cls.put("n-2", kind="other")
        cls.expected_good = ["e-1", "e-flaky", "e-bin", "e-2", "e-3", "e-crash", "e-4"]

    @classmethod
    def put(cls, pk: str, kind: str | None = None, extra: dict | None = None):
        item = {"pk": {"S": pk}, "sk": {"S": "0"}, **(extra or {})}
        if kind is not None:
            item["kind"] = {"S": kind}
        cls.ddb.put_item(TableName=TABLE, Item=item)

    @classmethod
    def _watchdog_fired(cls):
        sys.stderr.write(f"\nWATCHDOG: test exceeded {WATCHDOG_SECONDS}s, killing subprocesses\n")
        for p in cls.procs:
            if p.poll() is None:
                p.kill()
        os._exit(3)

    @classmethod
    def tearDownClass(cls):
        for p in reversed(cls.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)
        cls.procs.clear()
        cls.fake.close()
        cls.moto_log.close()
        cls.sidecar_log.close()
        if os.environ.get("SIDECAR_TEST_VERBOSE"):
            sys.stderr.write((Path(cls.tmp.name) / "sidecar.log").read_text())
        cls.watchdog.cancel()
        cls.tmp.cleanup()

    def sidecar_output(self) -> str:
        self.sidecar_log.flush()
        return (Path(self.tmp.name) / "sidecar.log").read_text()

    def wait(self, cond, timeout, what):
        try:
            return wait_until(cond, timeout, what)
        except AssertionError as e:
            raise AssertionError(f"{e}\n--- sidecar log ---\n{self.sidecar_output()}") from None

    # ------------------------------------------------------------------ pump

    def dlq_messages(self) -> list[dict]:
        url = self.sqs.get_queue_url(QueueName=DLQ)["QueueUrl"]
        msgs = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                        VisibilityTimeout=0).get("Messages", [])
        return [json.loads(m["Body"]) for m in msgs]

    def test_1_stream_pump(self):
        fake = self.fake
        self.wait(lambda: set(self.expected_good) <= set(fake.handled_order()), 40, "all good records handled")
        self.wait(lambda: (self.state_dir / "dlq.jsonl").exists() and self.dlq_messages(), 20, "poison record in the DLQ")

        with fake.lock:
            deliveries = [dict(d) for d in fake.deliveries]
            seen = dict(fake.seen)
            paths = list(fake.paths)

        # the Lambda invoke API path of cargo lambda watch
        self.assertEqual(set(paths), {f"/2015-03-31/functions/{FUNCTION}/invocations"})

        # only INSERTs of kind=event were ever delivered
        for d in deliveries:
            for r in d["records"]:
                self.assertEqual(r["eventName"], "INSERT", r)
                self.assertEqual(r["dynamodb"]["NewImage"]["kind"], {"S": "event"}, r)
        self.assertEqual(set(seen), set(self.expected_good) | {"e-poison"})

        # every good record was handled, first successes in write order (nothing reordered or lost)
        self.assertEqual(fake.handled_order(), self.expected_good)
        # within each delivery, records are in stream order
        for d in deliveries:
            seqs = [int(r["dynamodb"]["SequenceNumber"]) for r in d["records"]]
            self.assertEqual(seqs, sorted(seqs))
        # the flaky record came back after its first failure and the crash made a whole-batch retry
        self.assertGreaterEqual(seen["e-flaky"], 2)
        self.assertGreaterEqual(seen["e-crash"], 2)
        crash = [d for d in deliveries if "e-crash" in d["pks"]]
        self.assertEqual(crash[0]["status"], 500)
        self.assertEqual(crash[1]["pks"], crash[0]["pks"], "whole batch must be retried after an invoke error")
        # the poison record was the first failure of exactly 1 + MAX_RETRIES consecutive invokes
        # (before that it may have ridden along behind e-flaky), then was never sent again
        def first_failure(d):
            return d["failed"][0] if d["failed"] else None
        poison_runs = [d for d in deliveries if "e-poison" in d["pks"]]
        self.assertEqual(sum(first_failure(d) == "e-poison" for d in poison_runs), 1 + MAX_RETRIES)
        self.assertTrue(all(first_failure(d) == "e-poison" for d in poison_runs[-(1 + MAX_RETRIES):]))
        poison_idx = max(i for i, d in enumerate(deliveries) if "e-poison" in d["pks"])
        after = [pk for d in deliveries[poison_idx + 1:] for pk in d["pks"]]
        self.assertIn("e-bin", after)
        self.assertIn("e-2", after)

        # record shape as Lambda delivers it
        rec = next(r for d in deliveries for r in d["records"] if r["dynamodb"]["Keys"]["pk"]["S"] == "e-bin")
        self.assertEqual(rec["eventVersion"], "1.1")
        self.assertEqual(rec["eventSource"], "aws:dynamodb")
        self.assertEqual(rec["awsRegion"], "us-east-1")
        self.assertEqual(rec["eventSourceARN"], self.stream_arn)
        self.assertTrue(rec["eventID"])
        dyn = rec["dynamodb"]
        self.assertIsInstance(dyn["ApproximateCreationDateTime"], (int, float))
        self.assertLess(abs(dyn["ApproximateCreationDateTime"] - time.time()), 300)
        self.assertEqual(dyn["Keys"], {"pk": {"S": "e-bin"}, "sk": {"S": "0"}})
        self.assertEqual(dyn["StreamViewType"], "NEW_AND_OLD_IMAGES")
        self.assertIsInstance(dyn["SizeBytes"], int)
        self.assertNotIn("OldImage", dyn)
        img = dyn["NewImage"]
        self.assertEqual(base64.b64decode(img["blob"]["B"]), b"\x00\x01\xff")
        self.assertEqual(img["n"], {"N": "1.5"})
        self.assertEqual(sorted(img["ss"]["SS"]), ["a", "b"])
        self.assertEqual(img["bs"], {"BS": [base64.b64encode(b"x").decode()]})
        self.assertEqual(img["m"], {"M": {"l": {"L": [{"BOOL": True}, {"NULL": True}, {"N": "7"}]}}})

        # failure destination: SQS and dlq.jsonl, AWS shape + the record
        msgs = self.dlq_messages()
        self.assertEqual(len(msgs), 1, msgs)
        lines = [json.loads(x) for x in (self.state_dir / "dlq.jsonl").read_text().splitlines()]
        self.assertEqual(lines, msgs)
        m = msgs[0]
        poison_seq = m["record"]["dynamodb"]["SequenceNumber"]
        self.assertEqual(m["record"]["dynamodb"]["Keys"]["pk"], {"S": "e-poison"})
        self.assertEqual(m["version"], "1.0")
        self.assertEqual(m["requestContext"]["condition"], "RetryAttemptsExhausted")
        self.assertEqual(m["requestContext"]["approximateInvokeCount"], seen["e-poison"])
        self.assertGreaterEqual(seen["e-poison"], 1 + MAX_RETRIES)
        self.assertEqual(m["requestContext"]["functionArn"], f"arn:aws:lambda:us-east-1:123456789012:function:{FUNCTION}")
        self.assertEqual(m["responseContext"]["executedVersion"], "$LATEST")
        self.assertEqual(m["responseContext"]["statusCode"], 200)
        self.assertIn("functionError", m["responseContext"])
        info = m["DDBStreamBatchInfo"]
        self.assertEqual(info["batchSize"], 1)
        self.assertEqual(info["startSequenceNumber"], poison_seq)
        self.assertEqual(info["endSequenceNumber"], poison_seq)
        self.assertEqual(info["streamArn"], self.stream_arn)
        self.assertTrue(info["shardId"].startswith("shardId-"))
        self.assertRegex(info["approximateArrivalOfFirstRecord"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertRegex(m["timestamp"], r"^\d{4}-\d\d-\d\dT")

        # /dlq serves the same entries
        status, body = http_get(self.mailbox + "/dlq")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body), lines)

        out = self.sidecar_output()
        self.assertIn("sending to failure destination", out)

    # --------------------------------------------------------------- mailbox

    def test_2_mailbox(self):
        self.wait(lambda: http_get(self.mailbox + "/healthz") == (200, "ok"), 20, "mailbox /healthz")
        self.ses.create_email_identity(EmailIdentity="noreply@gatehouse.test")
        self.ses.send_email(
            FromEmailAddress="noreply@gatehouse.test",
            Destination={"ToAddresses": ["Dev@Example.com"], "CcAddresses": ["ops@example.com"]},
            Content={"Simple": {"Subject": {"Data": "Confirm your registration"},
                                "Body": {"Text": {"Data": "plain confirm"}, "Html": {"Data": "<p>confirm</p>"}}}})
        self.ses.send_email(
            FromEmailAddress="Gatehouse <noreply@gatehouse.test>",
            Destination={"ToAddresses": ["admin@example.com", "second@example.com"]},
            Content={"Simple": {"Subject": {"Data": "New developer awaiting approval"},
                                "Body": {"Text": {"Data": "Please review."}}}})

        status, body = http_get(self.mailbox + "/mailbox")
        self.assertEqual(status, 200)
        mails = json.loads(body)
        self.assertEqual(len(mails), 2, mails)
        by_subject = {m["subject"]: m for m in mails}
        a = by_subject["Confirm your registration"]
        self.assertEqual(a["from"], "noreply@gatehouse.test")
        self.assertEqual(a["to"], ["Dev@Example.com"])
        self.assertEqual(a["cc"], ["ops@example.com"])
        self.assertEqual(a["bcc"], [])
        self.assertEqual(a["body"], "<p>confirm</p>")  # moto keeps the HTML part when present
        self.assertTrue(a["id"])
        b = by_subject["New developer awaiting approval"]
        self.assertEqual(b["to"], ["admin@example.com", "second@example.com"])
        self.assertEqual(b["body"], "Please review.")
        self.assertEqual(b["from"], "Gatehouse <noreply@gatehouse.test>")

        status, body = http_get(self.mailbox + "/mailbox?to=dev@example.COM")
        self.assertEqual([m["subject"] for m in json.loads(body)], ["Confirm your registration"])
        status, body = http_get(self.mailbox + "/mailbox?to=nobody@example.com")
        self.assertEqual(json.loads(body), [])

    # --------------------------------------------------------------- shutdown

    def test_3_sigterm_exits_cleanly(self):
        self.assertIsNone(self.sidecar.poll(), "sidecar died early:\n" + self.sidecar_output())
        t0 = time.monotonic()
        self.sidecar.send_signal(signal.SIGTERM)
        rc = self.sidecar.wait(10)
        self.assertEqual(rc, 0, self.sidecar_output())
        self.assertLess(time.monotonic() - t0, 5)


class SidecarRobustnessTest(unittest.TestCase):
    """The sidecar starts before moto, the table and the function endpoint exist;
    a record that makes every invoke fail (HTTP 500) is bisected out to the DLQ."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="sidecar-test-")
        tmp = Path(cls.tmp.name)
        cls.procs: list[subprocess.Popen] = []
        cls.fake = None
        cls.watchdog = threading.Timer(WATCHDOG_SECONDS, cls._watchdog_fired)
        cls.watchdog.daemon = True
        cls.watchdog.start()
        cls.env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                   "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"}
        cls.env.pop("AWS_PROFILE", None)
        cls.moto_port, cls.fake_port, cls.mailbox_port = free_port(), free_port(), free_port()
        cls.endpoint = f"http://127.0.0.1:{cls.moto_port}"
        cls.mailbox = f"http://127.0.0.1:{cls.mailbox_port}"
        cls.state_dir = tmp / "state"
        cls.log_path = tmp / "sidecar.log"
        cls.sidecar_log = open(cls.log_path, "wb")
        cls.sidecar = subprocess.Popen(
            [sys.executable, str(SIDECAR), "--endpoint-url", cls.endpoint, "--table", "late-table",
             "--invoke-url", f"http://127.0.0.1:{cls.fake_port}", "--max-retries", "1", "--batch-size", "10",
             "--dlq-name", "late-dlq", "--state-dir", str(cls.state_dir), "--mailbox-port", str(cls.mailbox_port)],
            stdout=cls.sidecar_log, stderr=subprocess.STDOUT, env=cls.env)
        cls.procs.append(cls.sidecar)

    @classmethod
    def _watchdog_fired(cls):
        sys.stderr.write(f"\nWATCHDOG: test exceeded {WATCHDOG_SECONDS}s, killing subprocesses\n")
        for p in cls.procs:
            if p.poll() is None:
                p.kill()
        os._exit(3)

    @classmethod
    def tearDownClass(cls):
        for p in reversed(cls.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)
        if cls.fake:
            cls.fake.close()
        cls.sidecar_log.close()
        if os.environ.get("SIDECAR_TEST_VERBOSE"):
            sys.stderr.write(cls.log_path.read_text())
        cls.watchdog.cancel()
        cls.tmp.cleanup()

    def test_late_dependencies_and_bisection(self):
        def log_text():
            return self.log_path.read_text()

        def wait(cond, timeout, what):
            try:
                return wait_until(cond, timeout, what)
            except AssertionError as e:
                raise AssertionError(f"{e}\n--- sidecar log ---\n{log_text()}") from None

        # nothing is up yet: the mailbox answers, /mailbox reports moto as unreachable
        wait(lambda: http_get(self.mailbox + "/healthz")[0] == 200, 20, "mailbox up")
        with self.assertRaises(urllib.error.HTTPError) as cm:
            http_get(self.mailbox + "/mailbox")
        self.assertEqual(cm.exception.code, 502)
        self.assertEqual(json.loads(http_get(self.mailbox + "/dlq")[1]), [])
        time.sleep(0.5)

        moto_log = open(Path(self.tmp.name) / "moto.log", "wb")
        self.addCleanup(moto_log.close)
        self.procs.append(subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.moto_port)],
            stdout=moto_log, stderr=subprocess.STDOUT, env=self.env))
        wait(lambda: http_get(self.endpoint + "/moto-api/data.json")[0] == 200, 30, "moto server")
        self.assertEqual(json.loads(http_get(self.mailbox + "/mailbox")[1]), [])
        wait(lambda: "waiting for table" in log_text(), 15, "pump waiting for the table")

        ddb = boto3.client("dynamodb", endpoint_url=self.endpoint, region_name="us-east-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        ddb.create_table(
            TableName="late-table", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "sk", "AttributeType": "S"}],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
        pks = ["g-1", "g-2", "g-3", "boom", "g-4", "g-5"]
        ddb.batch_write_item(RequestItems={"late-table": [
            {"PutRequest": {"Item": {"pk": {"S": pk}, "sk": {"S": "0"}, "kind": {"S": "event"}}}} for pk in pks]})
        wait(lambda: "cannot reach" in log_text(), 20, "pump waiting for the function endpoint")

        self.__class__.fake = fake = FakeLambda(crash_always="boom", port=self.fake_port)
        good = [pk for pk in pks if pk != "boom"]
        wait(lambda: set(good) <= set(fake.handled_order()), 30, "good records handled")
        self.assertEqual(fake.handled_order(), good)
        dlq = wait(lambda: json.loads(http_get(self.mailbox + "/dlq")[1]), 10, "boom in /dlq")
        self.assertEqual(len(dlq), 1)
        self.assertEqual(dlq[0]["record"]["dynamodb"]["Keys"]["pk"], {"S": "boom"})
        self.assertEqual(dlq[0]["responseContext"]["statusCode"], 500)
        self.assertEqual(dlq[0]["responseContext"]["functionError"], "Unhandled")
        with fake.lock:
            boom_batches = [d["pks"] for d in fake.deliveries if "boom" in d["pks"]]
        self.assertEqual(boom_batches[-1], ["boom"], "bisection ends with the culprit alone")

        sqs = boto3.client("sqs", endpoint_url=self.endpoint, region_name="us-east-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        url = sqs.get_queue_url(QueueName="late-dlq")["QueueUrl"]
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        self.assertEqual([json.loads(m["Body"])["record"]["dynamodb"]["SequenceNumber"] for m in msgs],
                         [dlq[0]["DDBStreamBatchInfo"]["startSequenceNumber"]])

        self.sidecar.send_signal(signal.SIGINT)
        self.assertEqual(self.sidecar.wait(10), 0, log_text())


class FakeFunctions:
    """Three functions behind one fake `cargo lambda watch`: the stream consumer (records
    the pks it handled), a webhook fan-out that always crashes, and an SQS consumer that
    fails "flaky" on its first receive and "poison" every time."""

    def __init__(self):
        self.lock = threading.Lock()
        self.consumed: list[str] = []
        self.fanout_invokes = 0
        self.sqs_seen: dict[str, list[str]] = {}  # body -> message ids of every receive
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                event = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                status, payload = fake.handle(self.path, event)
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()

    def handle(self, path: str, event: dict):
        with self.lock:
            if "/functions/webhook-fanout/" in path:
                self.fanout_invokes += 1
                return 500, {"errorType": "Panic", "errorMessage": "fan-out down"}
            if "/functions/webhook-delivery/" in path:
                failed = []
                for r in event["Records"]:
                    assert r["eventSource"] == "aws:sqs"
                    seen = self.sqs_seen.setdefault(r["body"], [])
                    seen.append(r["messageId"])
                    if r["body"] == "poison" or (r["body"] == "flaky" and len(seen) == 1):
                        failed.append({"itemIdentifier": r["messageId"]})
                return 200, {"batchItemFailures": failed}
            self.consumed += [r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"]]
            return 200, {"batchItemFailures": []}

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class WebhookConsumersTest(unittest.TestCase):
    """A second stream consumer with its own checkpoints, and the SQS poller."""

    def setUp(self):
        tmp = tempfile.TemporaryDirectory(prefix="sidecar-webhooks-")
        self.addCleanup(tmp.cleanup)
        self.env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                    "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "NO_PROXY": "127.0.0.1,localhost"}
        self.env.pop("AWS_PROFILE", None)
        self.endpoint = f"http://127.0.0.1:{free_port()}"
        self.log_path = Path(tmp.name) / "sidecar.log"
        moto_log = open(Path(tmp.name) / "moto.log", "wb")
        self.addCleanup(moto_log.close)
        self.start([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", self.endpoint.rsplit(":", 1)[1]], moto_log)
        wait_until(lambda: http_get(self.endpoint + "/moto-api/data.json")[0] == 200, 30, "moto server")
        kw = dict(endpoint_url=self.endpoint, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
        self.ddb, self.sqs = boto3.client("dynamodb", **kw), boto3.client("sqs", **kw)
        self.ddb.create_table(
            TableName=TABLE, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
        self.fake = FakeFunctions()
        self.addCleanup(self.fake.close)
        self.state_dir = Path(tmp.name) / "state"
        log = open(self.log_path, "wb")
        self.addCleanup(log.close)
        self.start([sys.executable, str(SIDECAR), "--no-mailbox"], log, {
            **self.env, "AWS_ENDPOINT_URL": self.endpoint, "GATEHOUSE_TABLE": TABLE, "GATEHOUSE_INVOKE_URL": self.fake.url,
            "GATEHOUSE_STREAM_MAX_RETRIES": "1", "GATEHOUSE_DLQ_NAME": DLQ, "GATEHOUSE_STATE_DIR": str(self.state_dir),
            "GATEHOUSE_STREAM_FANOUT_FUNCTIONS": "webhook-fanout", "GATEHOUSE_SQS_QUEUE": "deliveries",
            "GATEHOUSE_SQS_MAX_RECEIVES": "2"})

    def start(self, cmd, out, env=None):
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env or self.env)

        def stop():
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)
        self.addCleanup(stop)

    def wait(self, cond, timeout, what):
        try:
            return wait_until(cond, timeout, what)
        except AssertionError as e:
            raise AssertionError(f"{e}\n--- sidecar log ---\n{self.log_path.read_text()}") from None

    def test_a_failing_second_consumer_never_holds_the_first_and_the_poller_deletes_only_what_succeeded(self):
        for pk in ("w-1", "w-2", "w-3"):
            self.ddb.put_item(TableName=TABLE, Item={"pk": {"S": pk}, "sk": {"S": "0"}, "kind": {"S": "event"}})
        self.wait(lambda: self.fake.consumed == ["w-1", "w-2", "w-3"], 30, "the mail consumer handles every event")
        # The fan-out is its own consumer on its own thread: it gets the same records, in its own time.
        self.wait(lambda: self.fake.fanout_invokes > 0, 30, "the fan-out gets the same records")
        self.wait(lambda: (self.state_dir / "checkpoints.webhook-fanout.json").exists(), 30, "the fan-out's own checkpoints")

        url = self.wait(lambda: self.sqs.get_queue_url(QueueName="deliveries")["QueueUrl"], 20, "the poller's queue")
        self.sqs.send_message(QueueUrl=url, MessageBody="ok", DelaySeconds=1)
        self.sqs.send_message(QueueUrl=url, MessageBody="flaky")
        self.sqs.send_message(QueueUrl=url, MessageBody="poison")
        dlq = self.sqs.get_queue_url(QueueName="deliveries-dlq")["QueueUrl"]

        def dead():
            return [m["Body"] for m in self.sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", [])]
        self.assertEqual(self.wait(dead, 30, "poison in the DLQ"), ["poison"])
        self.wait(lambda: len(self.fake.sqs_seen.get("flaky", [])) == 2, 30, "flaky received again")
        with self.fake.lock:
            seen = dict(self.fake.sqs_seen)
        self.assertEqual(len(seen["ok"]), 1, "a message that succeeded is deleted")
        self.assertEqual(len(set(seen["flaky"])), 1, "a failed message comes back as itself")
        self.assertEqual(len(seen["poison"]), 2, "maxReceiveCount receives, then the DLQ")

        # The poller deletes a message after the function answered, so the queue empties just after.
        def left():
            attrs = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            return (attrs["ApproximateNumberOfMessages"], attrs["ApproximateNumberOfMessagesNotVisible"])
        self.wait(lambda: left() == ("0", "0"), 10, "the queue empty once every message is handled or dead")


if __name__ == "__main__":
    unittest.main(verbosity=2)
