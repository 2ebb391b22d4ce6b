#!/usr/bin/env python3
"""Local-development sidecar for Gatehouse.

Two jobs in one process:

* **Stream pump** -- emulates the Lambda DynamoDB event source mapping of the
  ``stream-consumer`` function against moto: it reads the table's stream from
  TRIM_HORIZON, applies the deployed filter criteria (``INSERT`` of items with
  ``kind = "event"``), invokes the function through ``cargo lambda watch``
  (``POST {invoke_url}/2015-03-31/functions/{name}/invocations``), honours partial
  batch responses (``batchItemFailures``), retries with backoff and, once the
  retries are exhausted, bisects down to the failing record, sends it to the
  failure destination (an SQS queue in moto plus ``<state dir>/dlq.jsonl``) and
  carries on, so a poison record never blocks the shard.
  Further consumers of the stream (``--fanout-functions``, e.g. ``webhook-fanout``)
  get their own pump and checkpoints, as separate event source mappings.
* **SQS poller** (``--sqs-queue``) -- emulates the SQS event source mapping of
  ``webhook-delivery``: receive, invoke, delete what did not fail (see ``SqsPoller``).
* **Mailbox** -- a tiny HTTP server on 127.0.0.1 exposing what was "sent" through
  moto's SES: ``GET /mailbox[?to=addr]``, ``GET /dlq``, ``GET /healthz``.

Only the standard library and boto3 are needed::

    AWS_ENDPOINT_URL=http://127.0.0.1:5000 python infra/local/sidecar.py
    python infra/local/sidecar.py --no-mailbox      # pump only
    python infra/local/sidecar.py --no-pump         # mailbox only

Every setting has an environment variable (see ``--help``); flags win over env.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import datetime as dt
import email
import email.policy
import email.utils
import http.client
import json
import logging
import os
import random
import signal
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

log = logging.getLogger("sidecar")

# Filter criteria of the deployed event source mapping (Lambda event-filtering
# syntax, matched against the record in the shape it is delivered to the function).
DEFAULT_FILTER = {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"kind": {"S": ["event"]}}}}

# Never send anything through an HTTP proxy: everything we talk to is local.
_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Stopping(Exception):
    """Raised inside the pump when the process is shutting down."""


# --------------------------------------------------------------------------- config


@dataclass
class Config:
    endpoint_url: str
    region: str
    table: str
    invoke_url: str
    function: str
    max_retries: int
    batch_size: int
    dlq_name: str
    state_dir: Path
    mailbox_port: int
    poll_interval: float
    invoke_timeout: float
    stream_filter: Any
    reset_checkpoints: bool
    pump: bool = True
    mailbox: bool = True
    # Further consumers of the same stream (own event source mappings, own checkpoints).
    fanout_functions: list = field(default_factory=list)
    checkpoint_name: str = "checkpoints.json"
    # The SQS event source mapping: queue (created with its DLQ if missing), function.
    sqs_queue: str = ""
    sqs_function: str = "webhook-delivery"
    sqs_max_receives: int = 5

    @property
    def invocation_url(self) -> str:
        fn = urllib.parse.quote(self.function, safe="")
        return f"{self.invoke_url.rstrip('/')}/2015-03-31/functions/{fn}/invocations"


def parse_args(argv: list[str] | None = None) -> Config:
    env = os.environ.get
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--endpoint-url", default=env("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"), help="moto server [AWS_ENDPOINT_URL]")
    p.add_argument("--region", default=env("AWS_REGION", env("AWS_DEFAULT_REGION", "us-east-1")), help="[AWS_REGION]")
    p.add_argument("--table", default=env("GATEHOUSE_TABLE", "gatehouse"), help="[GATEHOUSE_TABLE]")
    p.add_argument("--invoke-url", default=env("GATEHOUSE_INVOKE_URL", "http://127.0.0.1:9000"), help="cargo lambda watch [GATEHOUSE_INVOKE_URL]")
    p.add_argument("--function", default=env("GATEHOUSE_STREAM_FUNCTION", "stream-consumer"), help="[GATEHOUSE_STREAM_FUNCTION]")
    p.add_argument("--max-retries", type=int, default=int(env("GATEHOUSE_STREAM_MAX_RETRIES", "3")),
                   help="retries after the first failed attempt, as MaximumRetryAttempts [GATEHOUSE_STREAM_MAX_RETRIES]")
    p.add_argument("--batch-size", type=int, default=int(env("GATEHOUSE_STREAM_BATCH_SIZE", "100")), help="[GATEHOUSE_STREAM_BATCH_SIZE]")
    p.add_argument("--dlq-name", default=env("GATEHOUSE_DLQ_NAME", "gatehouse-stream-dlq"), help="SQS failure destination [GATEHOUSE_DLQ_NAME]")
    p.add_argument("--state-dir", default=env("GATEHOUSE_STATE_DIR", ".gatehouse"), help="dlq.jsonl and checkpoints.json [GATEHOUSE_STATE_DIR]")
    p.add_argument("--mailbox-port", type=int, default=int(env("GATEHOUSE_MAILBOX_PORT", "9001")), help="[GATEHOUSE_MAILBOX_PORT]")
    p.add_argument("--poll-interval", type=float, default=float(env("GATEHOUSE_STREAM_POLL_INTERVAL", "0.2")), help="idle poll interval, s")
    p.add_argument("--invoke-timeout", type=float, default=float(env("GATEHOUSE_INVOKE_TIMEOUT", "900")),
                   help="HTTP timeout of one invoke (cargo lambda watch may compile first) [GATEHOUSE_INVOKE_TIMEOUT]")
    p.add_argument("--filter", default=env("GATEHOUSE_STREAM_FILTER", json.dumps(DEFAULT_FILTER)),
                   help="event filter pattern (JSON, Lambda filter syntax) [GATEHOUSE_STREAM_FILTER]")
    p.add_argument("--reset-checkpoints", action="store_true", help="ignore saved shard positions and start at TRIM_HORIZON")
    p.add_argument("--fanout-functions", default=env("GATEHOUSE_STREAM_FANOUT_FUNCTIONS", ""),
                   help="comma-separated further consumers of the stream, each with its own checkpoints [GATEHOUSE_STREAM_FANOUT_FUNCTIONS]")
    p.add_argument("--sqs-queue", default=env("GATEHOUSE_SQS_QUEUE", ""), help="queue polled for --sqs-function; none: no poller [GATEHOUSE_SQS_QUEUE]")
    p.add_argument("--sqs-function", default=env("GATEHOUSE_SQS_FUNCTION", "webhook-delivery"), help="[GATEHOUSE_SQS_FUNCTION]")
    p.add_argument("--sqs-max-receives", type=int, default=int(env("GATEHOUSE_SQS_MAX_RECEIVES", "5")),
                   help="maxReceiveCount of the queue's redrive policy to <queue>-dlq [GATEHOUSE_SQS_MAX_RECEIVES]")
    p.add_argument("--no-pump", action="store_true", help="do not run the stream pump")
    p.add_argument("--no-mailbox", action="store_true", help="do not run the mailbox HTTP server")
    a = p.parse_args(argv)
    if a.batch_size < 1 or a.max_retries < 0:
        p.error("--batch-size must be >= 1 and --max-retries >= 0")
    try:
        flt = json.loads(a.filter)
    except ValueError as e:
        p.error(f"--filter is not JSON: {e}")
    return Config(
        endpoint_url=a.endpoint_url, region=a.region, table=a.table, invoke_url=a.invoke_url, function=a.function,
        max_retries=a.max_retries, batch_size=a.batch_size, dlq_name=a.dlq_name, state_dir=Path(a.state_dir),
        mailbox_port=a.mailbox_port, poll_interval=a.poll_interval, invoke_timeout=a.invoke_timeout, stream_filter=flt,
        reset_checkpoints=a.reset_checkpoints, pump=not a.no_pump, mailbox=not a.no_mailbox,
        fanout_functions=[f.strip() for f in a.fanout_functions.split(",") if f.strip()],
        sqs_queue=a.sqs_queue, sqs_function=a.sqs_function, sqs_max_receives=a.sqs_max_receives,
    )


def make_client(service: str, cfg: Config):
    import boto3
    from botocore.config import Config as BotoConfig

    kw: dict[str, Any] = {}
    if not os.environ.get("AWS_ACCESS_KEY_ID"):  # moto accepts anything; skip the credential chain (IMDS...)
        kw = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
    return boto3.session.Session().client(
        service, endpoint_url=cfg.endpoint_url, region_name=cfg.region,
        config=BotoConfig(connect_timeout=3, read_timeout=30, retries={"max_attempts": 2, "mode": "standard"}), **kw,
    )


# --------------------------------------------------------------------- record shape


def jsonable(v: Any) -> Any:
    """Turn boto3 low-level output (DynamoDB JSON with bytes, datetimes) into plain JSON."""
    if isinstance(v, dict):
        return {k: jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set, frozenset)):
        return [jsonable(x) for x in v]
    if isinstance(v, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(v)).decode("ascii")
    if isinstance(v, dt.datetime):
        return v.timestamp()
    if hasattr(v, "value") and type(v).__name__ == "Binary":  # boto3.dynamodb.types.Binary
        return base64.b64encode(v.value).decode("ascii")
    if type(v).__name__ == "Decimal":
        return str(v)
    return v


def epoch_seconds(v: Any) -> int | float:
    if isinstance(v, dt.datetime):
        return int(v.timestamp())  # Lambda delivers whole seconds
    if isinstance(v, (int, float)):
        return int(v)
    return v


def iso_utc(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_iso_ms() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_lambda_record(raw: dict, stream_arn: str, region: str) -> dict:
    """A GetRecords record in the shape Lambda hands it to the function."""
    d = raw.get("dynamodb", {})
    ddb: dict[str, Any] = {}
    if "ApproximateCreationDateTime" in d:
        ddb["ApproximateCreationDateTime"] = epoch_seconds(d["ApproximateCreationDateTime"])
    for k in ("Keys", "NewImage", "OldImage"):
        if k in d:
            ddb[k] = jsonable(d[k])
    for k in ("SequenceNumber", "SizeBytes", "StreamViewType"):
        if k in d:
            ddb[k] = d[k]
    rec: dict[str, Any] = {
        "eventID": raw.get("eventID"),
        "eventName": raw.get("eventName"),
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": ddb,
        "eventSourceARN": stream_arn,
    }
    if "userIdentity" in raw:  # TTL deletions
        rec["userIdentity"] = jsonable(raw["userIdentity"])
    return rec


def seq_of(rec: dict) -> str:
    return rec["dynamodb"]["SequenceNumber"]


# ------------------------------------------------------------------ event filtering

_MISSING = object()


def _match_value(value: Any, rules: list) -> bool:
    for rule in rules:
        if isinstance(rule, dict):
            if "exists" in rule:
                if (value is not _MISSING) == bool(rule["exists"]):
                    return True
                continue
            if value is _MISSING:
                continue
            if "prefix" in rule and isinstance(value, str) and value.startswith(rule["prefix"]):
                return True
            if "suffix" in rule and isinstance(value, str) and value.endswith(rule["suffix"]):
                return True
            if "equals-ignore-case" in rule and isinstance(value, str) and value.lower() == str(rule["equals-ignore-case"]).lower():
                return True
            if "anything-but" in rule:
                ab = rule["anything-but"]
                ab = ab if isinstance(ab, list) else [ab]
                if value not in ab:
                    return True
            if "numeric" in rule and isinstance(value, (int, float, str)):
                try:
                    x, ops, ok = float(value), rule["numeric"], True
                    for op, lim in zip(ops[::2], ops[1::2]):
                        ok &= {"=": x == lim, "<": x < lim, "<=": x <= lim, ">": x > lim, ">=": x >= lim}[op]
                    if ok:
                        return True
                except (ValueError, KeyError):
                    pass
        elif value is not _MISSING and value == rule:
            return True
    return False


def matches_filter(obj: Any, pattern: Any) -> bool:
    """Subset of Lambda/EventBridge filter syntax: literals, null, exists, prefix,
    suffix, equals-ignore-case, anything-but, numeric. A list of patterns = OR."""
    if pattern is None:
        return True
    if isinstance(pattern, list):  # list of alternative patterns
        return any(matches_filter(obj, p) for p in pattern) if pattern else True
    for key, sub in pattern.items():
        value = obj.get(key, _MISSING) if isinstance(obj, dict) else _MISSING
        if isinstance(sub, dict):
            if not matches_filter(value if isinstance(value, dict) else {}, sub):
                return False
        elif not _match_value(value, sub if isinstance(sub, list) else [sub]):
            return False
    return True


# ------------------------------------------------------------------------ the pump


@dataclass
class ShardState:
    shard_id: str
    parent: str | None
    iterator: str | None = None
    pending: list = field(default_factory=list)  # raw records fetched, not yet processed
    fetched_upto: str | None = None  # last sequence number fetched into `pending`
    checkpoint: str | None = None  # last sequence number fully processed
    closed: bool = False  # no NextShardIterator any more

    @property
    def finished(self) -> bool:
        return self.closed and not self.pending


@dataclass
class InvokeResult:
    ok: bool  # the invoke itself succeeded (2xx, no function error)
    failed: list  # sequence numbers reported in batchItemFailures (ok only)
    status: int | None
    function_error: str | None
    request_id: str
    detail: str = ""


class StreamPump:
    DESCRIBE_EVERY = 5.0  # s between describe_table/describe_stream checks

    def __init__(self, cfg: Config, stop: threading.Event):
        self.cfg = cfg
        self.stop = stop
        self.ddb = make_client("dynamodb", cfg)
        self.streams = make_client("dynamodbstreams", cfg)
        self.sqs = make_client("sqs", cfg)
        self.stream_arn: str | None = None
        self.shards: dict[str, ShardState] = {}
        self.last_describe = 0.0
        self.queue_url: str | None = None
        self.cfg.state_dir.mkdir(parents=True, exist_ok=True)
        self.checkpoint_file = cfg.state_dir / cfg.checkpoint_name
        self.dlq_file = cfg.state_dir / "dlq.jsonl"
        self.checkpoints = {} if cfg.reset_checkpoints else self._load_checkpoints()
        self._warned: set[str] = set()

    # -- helpers

    def sleep(self, seconds: float) -> None:
        if self.stop.wait(seconds):
            raise Stopping()

    def warn_once(self, key: str, msg: str, *args) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(msg, *args)

    def _load_checkpoints(self) -> dict:
        try:
            return json.loads(self.checkpoint_file.read_text())
        except (OSError, ValueError):
            return {}

    def _save_checkpoint(self, shard: ShardState) -> None:
        if shard.checkpoint is None or self.stream_arn is None:
            return
        self.checkpoints.setdefault(self.stream_arn, {})[shard.shard_id] = shard.checkpoint
        # forget positions in streams of tables that no longer exist (keep the file small)
        for arn in [a for a in self.checkpoints if a != self.stream_arn][:-4]:
            del self.checkpoints[arn]
        tmp = self.checkpoint_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.checkpoints, indent=1))
        os.replace(tmp, self.checkpoint_file)

    # -- main loop

    def run(self) -> None:
        log.info("pump: table=%s function=%s via %s, batch<=%d, retries=%d, dlq=%s",
                 self.cfg.table, self.cfg.function, self.cfg.invocation_url, self.cfg.batch_size,
                 self.cfg.max_retries, self.cfg.dlq_name)
        backoff, failing = 0.5, False
        while not self.stop.is_set():
            try:
                busy = self.tick()
                if failing:
                    log.info("pump: recovered")
                    self._warned = {k for k in self._warned if not k.startswith("err:")}
                backoff, failing = 0.5, False
                if not busy:
                    self.sleep(self.cfg.poll_interval)
            except Stopping:
                break
            except Exception as e:  # never die: moto down, restarted, table recreated...
                failing = True
                self.warn_once(f"err:{type(e).__name__}", "pump: %s: %s (retrying)", type(e).__name__, e)
                log.debug("pump error", exc_info=True)
                for s in self.shards.values():  # iterators may be stale (moto restart)
                    s.iterator = None
                self.last_describe = 0.0
                if self.stop.wait(backoff):
                    break
                backoff = min(backoff * 2, 5.0)
        log.info("pump: stopped")

    def tick(self) -> bool:
        """One round over all shards. Returns True if there was work."""
        if time.monotonic() - self.last_describe > self.DESCRIBE_EVERY or self.stream_arn is None:
            self.refresh_topology()
            if self.stream_arn is None:
                self.sleep(1.0)
                return False
        busy = False
        for shard in sorted(self.shards.values(), key=lambda s: s.shard_id):
            if shard.finished:
                continue
            parent = self.shards.get(shard.parent) if shard.parent else None
            if parent is not None and not parent.finished:
                continue  # as Lambda: a child shard waits for its parent
            busy |= self.poll_shard(shard)
        return busy

    def refresh_topology(self) -> None:
        from botocore.exceptions import ClientError

        self.last_describe = time.monotonic()
        try:
            table = self.ddb.describe_table(TableName=self.cfg.table)["Table"]
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                self.warn_once("notable", "pump: waiting for table %r to exist", self.cfg.table)
                self._switch_stream(None)
                return
            raise
        arn = table.get("LatestStreamArn")
        if not arn or not table.get("StreamSpecification", {}).get("StreamEnabled", bool(arn)):
            self.warn_once("nostream", "pump: table %r has no stream enabled; waiting", self.cfg.table)
            self._switch_stream(None)
            return
        self._warned.discard("notable")
        self._warned.discard("nostream")
        if arn != self.stream_arn:
            self._switch_stream(arn)
        shards: list[dict] = []
        kw: dict[str, Any] = {"StreamArn": arn}
        while True:
            desc = self.streams.describe_stream(**kw)["StreamDescription"]
            shards += desc.get("Shards", [])
            last = desc.get("LastEvaluatedShardId")
            if not last:
                break
            kw["ExclusiveStartShardId"] = last
        for s in shards:
            sid = s["ShardId"]
            if sid not in self.shards:
                st = ShardState(sid, s.get("ParentShardId"))
                st.checkpoint = self.checkpoints.get(arn, {}).get(sid)
                self.shards[sid] = st
                log.info("pump: shard %s%s", sid, f" (resuming after {st.checkpoint})" if st.checkpoint else " (TRIM_HORIZON)")

    def _switch_stream(self, arn: str | None) -> None:
        if arn == self.stream_arn:
            return
        if arn:
            log.info("pump: reading stream %s", arn)
        elif self.stream_arn:
            log.warning("pump: stream %s is gone", self.stream_arn)
        self.stream_arn = arn
        self.shards = {}

    def poll_shard(self, shard: ShardState) -> bool:
        if len(shard.pending) < self.cfg.batch_size and not shard.closed:
            self.fetch(shard)
        if not shard.pending:
            return False
        batch: list[dict] = []
        consumed = 0
        for raw in shard.pending:
            if len(batch) >= self.cfg.batch_size:
                break
            consumed += 1
            rec = to_lambda_record(raw, self.stream_arn or "", self.cfg.region)
            if matches_filter(rec, self.cfg.stream_filter):
                batch.append(rec)
        last_seq = shard.pending[consumed - 1]["dynamodb"]["SequenceNumber"]
        if batch:
            self.process(shard, batch)  # returns only once every record succeeded or went to the DLQ
        elif consumed:
            log.debug("pump: %s skipped %d filtered record(s)", shard.shard_id, consumed)
        del shard.pending[:consumed]
        shard.checkpoint = last_seq
        self._save_checkpoint(shard)
        return True

    def fetch(self, shard: ShardState) -> None:
        from botocore.exceptions import ClientError

        if shard.iterator is None:
            after = shard.fetched_upto or shard.checkpoint
            kw: dict[str, Any] = {"StreamArn": self.stream_arn, "ShardId": shard.shard_id}
            if after:
                kw.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=after)
            else:
                kw.update(ShardIteratorType="TRIM_HORIZON")
            shard.iterator = self.streams.get_shard_iterator(**kw)["ShardIterator"]
        try:
            resp = self.streams.get_records(ShardIterator=shard.iterator, Limit=min(1000, max(100, self.cfg.batch_size)))
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code")
            if code in ("ExpiredIteratorException", "TrimmedDataAccessException", "ResourceNotFoundException"):
                log.info("pump: %s on %s; re-positioning", code, shard.shard_id)
            shard.iterator = None
            raise
        records = resp.get("Records", [])
        if records:
            shard.pending.extend(records)
            shard.fetched_upto = records[-1]["dynamodb"]["SequenceNumber"]
        shard.iterator = resp.get("NextShardIterator")
        if shard.iterator is None:
            shard.closed = True
            log.info("pump: shard %s is closed", shard.shard_id)

    # -- delivery

    def invoke(self, records: list[dict]) -> InvokeResult:
        """Invoke the function once. Endpoint-unreachable errors are retried here
        forever (with backoff) without counting as attempts."""
        body = json.dumps({"Records": records}).encode()
        backoff = 0.5
        while True:
            if self.stop.is_set():
                raise Stopping()
            req = urllib.request.Request(self.cfg.invocation_url, data=body, method="POST", headers={
                "Content-Type": "application/json", "X-Amz-Invocation-Type": "RequestResponse"})
            try:
                with _HTTP.open(req, timeout=self.cfg.invoke_timeout) as resp:
                    return self._interpret(resp.status, resp.headers, resp.read(), records)
            except urllib.error.HTTPError as e:
                return self._interpret(e.code, e.headers, e.read() if e.fp else b"", records)
            except TimeoutError as e:  # no answer within the invoke timeout: the function timed out
                return InvokeResult(False, [], None, "TimedOut", str(uuid.uuid4()), f"no response in {self.cfg.invoke_timeout}s ({e})")
            except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
                # endpoint not up (yet), restarting, connection dropped: not the function's fault
                self.warn_once("invoke-down", "pump: cannot reach %s (%s); waiting for it",
                               self.cfg.invocation_url, getattr(e, "reason", e))
                self.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    def _interpret(self, status: int, headers, payload: bytes, records: list[dict]) -> InvokeResult:
        self._warned.discard("invoke-down")
        rid = (headers.get("x-amzn-requestid") or headers.get("lambda-runtime-aws-request-id")
               or str(uuid.uuid4())) if headers else str(uuid.uuid4())
        text = payload.decode("utf-8", "replace")
        func_err = headers.get("X-Amz-Function-Error") if headers else None
        if not (200 <= status < 300) or func_err:
            return InvokeResult(False, [], status, func_err or "Unhandled", rid, text[:300])
        try:
            data = json.loads(text) if text.strip() else None
        except ValueError:
            data = None
        if isinstance(data, dict) and "errorMessage" in data and "errorType" in data and "batchItemFailures" not in data:
            return InvokeResult(False, [], status, "Unhandled", rid, text[:300])
        failures = data.get("batchItemFailures") if isinstance(data, dict) else None
        if not failures:  # [], null, missing, {} or null response: whole batch succeeded
            return InvokeResult(True, [], status, None, rid)
        in_batch = {seq_of(r) for r in records}
        failed = []
        for f in failures if isinstance(failures, list) else [failures]:
            ident = f.get("itemIdentifier") if isinstance(f, dict) else None
            if not isinstance(ident, str) or ident not in in_batch:
                # Lambda treats a malformed/unknown itemIdentifier as a failure of the whole batch
                return InvokeResult(False, [], status, None, rid, f"invalid batchItemFailures entry {f!r}")
            failed.append(ident)
        return InvokeResult(True, failed, status, None, rid)

    def process(self, shard: ShardState, records: list[dict], invokes: dict[str, int] | None = None) -> None:
        """Deliver `records` (in order) until each one either succeeded or was sent
        to the failure destination. Emulates MaximumRetryAttempts + partial batch
        responses + BisectBatchOnFunctionError."""
        invokes = {} if invokes is None else invokes  # sequence number -> invokes that carried it
        queue = list(records)
        point: str | None = None  # sequence number of the record the failures stick to
        attempts = 0  # failed attempts at `point`
        while queue:
            res = self.invoke(queue)
            n = len(queue)
            for r in queue:
                invokes[seq_of(r)] = invokes.get(seq_of(r), 0) + 1
            if res.ok and not res.failed:
                extra = f" after {attempts} failed attempt(s)" if attempts else ""
                log.info("deliver %s: %d record(s) [%s..%s] ok%s", self.cfg.function, n, seq_of(queue[0]), seq_of(queue[-1]), extra)
                return
            if res.ok:  # partial batch response: restart from the lowest failed sequence number
                lowest = min(res.failed, key=int)
                idx = next(i for i, r in enumerate(queue) if seq_of(r) == lowest)
                desc = f"{len(res.failed)}/{n} failed, lowest {lowest}"
            else:
                idx = 0
                desc = f"invoke failed (status {res.status}, {res.function_error}){': ' + res.detail if res.detail else ''}"
            failing = seq_of(queue[idx])
            attempts = attempts + 1 if failing == point else 1
            point = failing
            queue = queue[idx:]  # records before it were handled successfully
            if attempts <= self.cfg.max_retries:
                delay = min(0.2 * 2 ** (attempts - 1), 10.0)
                log.warning("deliver %s: %d record(s): %s; retry %d/%d from %s in %.1fs",
                            self.cfg.function, n, desc, attempts, self.cfg.max_retries, failing, delay)
                self.sleep(delay)
                continue
            if not res.ok and len(queue) > 1:
                # whole-batch failure with retries exhausted: bisect to find the culprit
                mid = len(queue) // 2
                log.warning("deliver %s: %d record(s): %s; retries exhausted, bisecting %d+%d",
                            self.cfg.function, n, desc, mid, len(queue) - mid)
                self.process(shard, queue[:mid], invokes)
                queue, point, attempts = queue[mid:], None, 0
                continue
            log.error("deliver %s: record %s failed %d time(s) in a row; sending to failure destination",
                      self.cfg.function, failing, attempts)
            self.send_to_dlq(shard, queue[0], res, invokes.get(failing, attempts))
            queue, point, attempts = queue[1:], None, 0

    def send_to_dlq(self, shard: ShardState, rec: dict, res: InvokeResult, invoke_count: int) -> None:
        arn = self.stream_arn or ""
        parts = arn.split(":")
        account = parts[4] if len(parts) > 4 else "000000000000"
        created = rec["dynamodb"].get("ApproximateCreationDateTime")
        arrival = iso_utc(created) if isinstance(created, (int, float)) else None
        msg = {
            "requestContext": {
                "requestId": res.request_id,
                "functionArn": f"arn:aws:lambda:{self.cfg.region}:{account}:function:{self.cfg.function}",
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": invoke_count,
            },
            "responseContext": {
                "statusCode": res.status,
                "executedVersion": "$LATEST",
                "functionError": res.function_error,
            },
            "version": "1.0",
            "timestamp": now_iso_ms(),
            "DDBStreamBatchInfo": {
                "shardId": shard.shard_id,
                "startSequenceNumber": seq_of(rec),
                "endSequenceNumber": seq_of(rec),
                "approximateArrivalOfFirstRecord": arrival,
                "approximateArrivalOfLastRecord": arrival,
                "batchSize": 1,
                "streamArn": arn,
            },
            "record": rec,  # local-only: lets tooling replay it
        }
        line = json.dumps(msg, separators=(",", ":"))
        with self.dlq_file.open("a", encoding="utf-8") as f:
            f.write(line + "\n")
        backoff = 0.5
        while True:
            try:
                self.sqs.send_message(QueueUrl=self._queue_url(), MessageBody=line)
                return
            except Stopping:
                raise
            except Exception as e:
                self.queue_url = None
                self.warn_once("sqs", "pump: cannot send to SQS queue %s (%s); retrying", self.cfg.dlq_name, e)
                self.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    def _queue_url(self) -> str:
        from botocore.exceptions import ClientError

        if self.queue_url is None:
            try:
                self.queue_url = self.sqs.get_queue_url(QueueName=self.cfg.dlq_name)["QueueUrl"]
            except ClientError as e:
                code = e.response.get("Error", {}).get("Code", "")
                if "NonExistentQueue" not in code and "QueueDoesNotExist" not in code:
                    raise
                self.queue_url = self.sqs.create_queue(QueueName=self.cfg.dlq_name)["QueueUrl"]
                log.info("pump: created SQS queue %s", self.cfg.dlq_name)
        return self.queue_url


# ------------------------------------------------------------------ the SQS poller


class SqsPoller:
    """Emulates Lambda's SQS event source mapping with ReportBatchItemFailures:
    ReceiveMessage (up to 10, long poll 1 s), invoke the function with an SQS event,
    delete the messages that did not fail. Failed ones (or a whole batch whose invoke
    failed) reappear after the visibility timeout and, after ``sqs_max_receives``
    receives, moto's redrive policy moves them to ``<queue>-dlq``. DelaySeconds is
    moto's to honour."""

    VISIBILITY_TIMEOUT = 2  # s: a failed message is retried soon locally

    def __init__(self, cfg: Config, stop: threading.Event):
        self.cfg = cfg
        self.stop = stop
        self.sqs = make_client("sqs", cfg)
        self.queue_url: str | None = None
        self.queue_arn = ""
        self.function_cfg = dataclasses.replace(cfg, function=cfg.sqs_function)

    def ensure_queue(self) -> str:
        if self.queue_url is None:
            dlq = self.sqs.create_queue(QueueName=f"{self.cfg.sqs_queue}-dlq")["QueueUrl"]
            dlq_arn = self.sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(self.cfg.sqs_max_receives)})
            url = self.sqs.create_queue(QueueName=self.cfg.sqs_queue)["QueueUrl"]
            self.sqs.set_queue_attributes(QueueUrl=url, Attributes={
                "RedrivePolicy": redrive, "VisibilityTimeout": str(self.VISIBILITY_TIMEOUT)})
            self.queue_arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            self.queue_url = url
            log.info("sqs: polling %s for %s", self.cfg.sqs_queue, self.cfg.sqs_function)
        return self.queue_url

    def event_of(self, messages: list[dict]) -> list[dict]:
        return [{
            "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m.get("Body", ""),
            "attributes": m.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": m.get("MD5OfBody"),
            "eventSource": "aws:sqs", "eventSourceARN": self.queue_arn, "awsRegion": self.cfg.region,
        } for m in messages]

    def tick(self) -> int:
        """One receive, invoke and delete. Returns how many messages were received."""
        url = self.ensure_queue()
        got = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                       AttributeNames=["All"]).get("Messages", [])
        if not got:
            return 0
        records = self.event_of(got)
        failed = self.invoke(records)
        done = [m for m in got if m["MessageId"] not in failed]
        for i in range(0, len(done), 10):
            self.sqs.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(done[i:i + 10])])
        log.info("sqs %s: %d message(s), %d failed", self.cfg.sqs_function, len(got), len(failed))
        return len(got)

    def invoke(self, records: list[dict]) -> set:
        """The ids of the messages that failed (all of them when the invoke failed)."""
        ids = {r["messageId"] for r in records}
        body = json.dumps({"Records": records}).encode()
        req = urllib.request.Request(self.function_cfg.invocation_url, data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with _HTTP.open(req, timeout=self.cfg.invoke_timeout) as resp:
                status, headers, text = resp.status, resp.headers, resp.read().decode("utf-8", "replace")
        except urllib.error.HTTPError:
            return ids
        except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
            log.warning("sqs: cannot invoke %s (%s)", self.function_cfg.invocation_url, getattr(e, "reason", e))
            return ids
        if not (200 <= status < 300) or headers.get("X-Amz-Function-Error"):
            return ids
        try:
            data = json.loads(text) if text.strip() else None
        except ValueError:
            return ids
        if isinstance(data, dict) and "errorMessage" in data and "batchItemFailures" not in data:
            return ids
        failures = (data or {}).get("batchItemFailures") if isinstance(data, dict) else None
        out = set()
        for f in failures or []:
            ident = f.get("itemIdentifier") if isinstance(f, dict) else None
            if ident not in ids:
                return ids  # as Lambda: an unknown identifier fails the whole batch
            out.add(ident)
        return out

    def run(self) -> None:
        backoff = 0.5
        while not self.stop.is_set():
            try:
                if not self.tick():
                    self.stop.wait(self.cfg.poll_interval)
                backoff = 0.5
            except Exception as e:  # never die: moto down or restarted
                self.queue_url = None
                log.warning("sqs: %s: %s (retrying)", type(e).__name__, e)
                if self.stop.wait(backoff):
                    break
                backoff = min(backoff * 2, 5.0)
        log.info("sqs: stopped")


# ------------------------------------------------------------------------- mailbox


def fetch_moto_data(endpoint_url: str, timeout: float = 10.0) -> dict:
    """moto's models, SES's only where the server is infra/local/moto_server.py (it reads
    `?service=`; stock moto ignores it and answers every service's, the table's items too)."""
    with _HTTP.open(endpoint_url.rstrip("/") + "/moto-api/data.json?service=ses", timeout=timeout) as r:
        return json.loads(r.read())


def _addresses(value: str | None) -> list[str]:
    if not value:
        return []
    return [a for _, a in email.utils.getaddresses([value]) if a]


def mails_from_moto_data(data: dict) -> list[dict]:
    """Sent mail as moto keeps it: data.json -> "ses" -> "Message" (SendEmail with
    Simple content, v1 and v2 alike), "RawMessage" and "TemplateMessage"."""
    ses = data.get("ses") or {}
    out: list[dict] = []
    for m in ses.get("Message", []):
        d = m.get("destinations") or {}
        out.append({
            "id": m.get("id"), "type": "simple", "from": m.get("source"),
            "to": list(d.get("ToAddresses") or []), "cc": list(d.get("CcAddresses") or []),
            "bcc": list(d.get("BccAddresses") or []), "subject": m.get("subject"), "body": m.get("body"),
        })
    for m in ses.get("RawMessage", []):
        raw = m.get("raw_data") or ""
        msg = email.message_from_string(raw, policy=email.policy.default)
        part = msg.get_body(preferencelist=("html", "plain"))
        try:
            body = part.get_content() if part is not None else None
        except Exception:
            body = None
        to, cc = _addresses(msg.get("To")), _addresses(msg.get("Cc"))
        dests = list(dict.fromkeys(m.get("destinations") or []))
        out.append({
            "id": m.get("id"), "type": "raw", "from": m.get("source") or msg.get("From"),
            "to": to or dests, "cc": cc, "bcc": [a for a in dests if a not in to and a not in cc],
            "subject": msg.get("Subject"), "body": body, "raw": raw,
        })
    for m in ses.get("TemplateMessage", []):
        d = m.get("destinations") or {}
        d = d if isinstance(d, dict) else {"ToAddresses": d}
        out.append({
            "id": m.get("id"), "type": "template", "from": m.get("source"),
            "to": list(d.get("ToAddresses") or []), "cc": list(d.get("CcAddresses") or []),
            "bcc": list(d.get("BccAddresses") or []), "subject": None, "body": None,
            "template": m.get("template"), "templateData": m.get("template_data"),
        })
    return out


def read_dlq(path: Path) -> list:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def make_mailbox_server(cfg: Config) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        server_version = "gatehouse-sidecar"

        def log_message(self, fmt, *args):  # keep stderr for the pump
            log.debug("mailbox: " + fmt, *args)

        def _send(self, status: int, body: Any, ctype: str = "application/json") -> None:
            raw = body.encode() if isinstance(body, str) else json.dumps(body, indent=1).encode()
            self.send_response(status)
            self.send_header("Content-Type", ctype + "; charset=utf-8")
            self.send_header("Content-Length", str(len(raw)))
            self.send_header("Access-Control-Allow-Origin", "*")
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            q = urllib.parse.parse_qs(url.query)
            path = url.path.rstrip("/") or "/"
            if path == "/healthz":
                return self._send(200, "ok", "text/plain")
            if path == "/dlq":
                return self._send(200, read_dlq(cfg.state_dir / "dlq.jsonl"))
            if path == "/mailbox":
                try:
                    mails = mails_from_moto_data(fetch_moto_data(cfg.endpoint_url))
                except Exception as e:
                    return self._send(502, {"error": f"cannot read {cfg.endpoint_url}/moto-api/data.json: {e}"})
                wanted = {a.strip().lower() for v in q.get("to", []) for a in v.split(",") if a.strip()}
                if wanted:
                    mails = [m for m in mails
                             if wanted & {a.lower() for a in m["to"] + m["cc"] + m["bcc"]}]
                return self._send(200, mails)
            return self._send(404, {"error": "not found", "routes": ["/mailbox[?to=addr]", "/dlq", "/healthz"]})

    srv = ThreadingHTTPServer(("127.0.0.1", cfg.mailbox_port), Handler)
    srv.daemon_threads = True
    return srv


# ---------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv)
    logging.basicConfig(level=os.environ.get("GATEHOUSE_SIDECAR_LOG", "INFO").upper(), stream=sys.stderr,
                        format="%(asctime)s sidecar %(levelname).1s %(message)s", datefmt="%H:%M:%S")
    for noisy in ("botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    stop = threading.Event()

    def on_signal(signum, _frame):
        log.info("received %s, shutting down", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    threads: list[threading.Thread] = []
    server = None
    if cfg.mailbox:
        try:
            server = make_mailbox_server(cfg)
        except OSError as e:
            log.error("mailbox: cannot listen on 127.0.0.1:%d: %s", cfg.mailbox_port, e)
            return 2
        threads.append(threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                                         name="mailbox", daemon=True))
        log.info("mailbox: http://127.0.0.1:%d/mailbox (moto %s)", server.server_address[1], cfg.endpoint_url)
    if cfg.pump:
        pump = StreamPump(cfg, stop)
        threads.append(threading.Thread(target=pump.run, name="pump", daemon=True))
        # One pump per further consumer: its own position in the stream, so a failing
        # consumer never holds another (as separate event source mappings).
        for name in cfg.fanout_functions:
            other = StreamPump(dataclasses.replace(cfg, function=name, checkpoint_name=f"checkpoints.{name}.json"), stop)
            threads.append(threading.Thread(target=other.run, name=f"pump-{name}", daemon=True))
    if cfg.sqs_queue:
        threads.append(threading.Thread(target=SqsPoller(cfg, stop).run, name="sqs", daemon=True))
    if not threads:
        log.error("nothing to do (--no-pump and --no-mailbox)")
        return 2
    for t in threads:
        t.start()
    while not stop.wait(0.5):
        if not any(t.is_alive() for t in threads):
            break
    stop.set()
    if server is not None:
        server.shutdown()
        server.server_close()
    for t in threads:
        t.join(timeout=2.0)  # an invoke in flight may hold the pump; it is a daemon thread
    return 0


if __name__ == "__main__":
    sys.exit(main())
