"""A minimal Lambda Runtime API (2018-06-01) for running a function binary on this machine.

One `RuntimeAPI` serves one function process (set `AWS_LAMBDA_RUNTIME_API` to `api.address`):

* ``GET  /2018-06-01/runtime/invocation/next`` long-polls for the next queued event and answers
  with it and the headers Lambda sends (request id, deadline, function ARN, trace id);
* ``POST /2018-06-01/runtime/invocation/{id}/response`` and ``.../{id}/error`` complete it;
* ``POST /2018-06-01/runtime/init/error`` records an initialisation failure.

`invoke()` queues an event and waits for its answer; every step is timestamped with
`time.perf_counter()` so callers can measure cold starts and latencies. Standard library only.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PREFIX = "/2018-06-01/runtime"


class FunctionFailed(Exception):
    """The function answered with /error, failed to initialise, died, or timed out."""


@dataclass
class Invocation:
    payload: bytes
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    queued_at: float = 0.0
    next_at: float | None = None  # when the /next that delivered it arrived
    answered_at: float | None = None  # when the /response or /error request arrived
    kind: str | None = None  # "response" | "error"
    body: bytes = b""
    done: threading.Event = field(default_factory=threading.Event)

    def json(self) -> Any:
        return json.loads(self.body or b"null")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):  # a client that went away is not news
        pass


class RuntimeAPI:
    def __init__(self, function_name: str, timeout_ms: int = 30_000):
        self.function_name = function_name
        self.timeout_ms = timeout_ms
        self._queue: queue.Queue[Invocation] = queue.Queue()
        self._inflight: dict[str, Invocation] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self.init_error: bytes | None = None
        self.first_next_at: float | None = None
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # small header and body writes: no 40 ms delayed-ACK stalls

            def log_message(self, *args):  # quiet
                pass

            def _body(self) -> bytes:
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def _send(self, status: int, body: bytes = b"", headers: dict | None = None):
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if body:
                    self.wfile.write(body)

            def do_GET(self):
                t = time.perf_counter()
                if self.path != f"{PREFIX}/invocation/next":
                    return self._send(404, b'{"errorMessage":"not found"}')
                if api.first_next_at is None:
                    api.first_next_at = t
                while True:  # long poll, as Lambda does, until an event or shutdown
                    if api._closed.is_set():
                        self.close_connection = True
                        return self._send(503, b'{"errorMessage":"runtime API closed"}')
                    try:
                        inv = api._queue.get(timeout=0.2)
                        break
                    except queue.Empty:
                        continue
                inv.next_at = t
                with api._lock:
                    api._inflight[inv.request_id] = inv
                deadline = int(time.time() * 1000) + api.timeout_ms
                self._send(200, inv.payload, {
                    "Lambda-Runtime-Aws-Request-Id": inv.request_id,
                    "Lambda-Runtime-Deadline-Ms": str(deadline),
                    "Lambda-Runtime-Invoked-Function-Arn": f"arn:aws:lambda:us-east-1:123456789012:function:{api.function_name}",
                    "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=0",
                })

            def do_POST(self):
                t = time.perf_counter()
                body = self._body()
                path = self.path
                if path == f"{PREFIX}/init/error":
                    api.init_error = body or b"init error"
                    return self._send(202, b'{"status":"OK"}')
                parts = path[len(PREFIX):].strip("/").split("/") if path.startswith(PREFIX) else []
                if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                    with api._lock:
                        inv = api._inflight.pop(parts[1], None)
                    if inv is None:
                        return self._send(400, b'{"errorMessage":"unknown request id"}')
                    inv.answered_at, inv.kind, inv.body = t, parts[2], body
                    inv.done.set()
                    return self._send(202, b'{"status":"OK"}')
                return self._send(404, b'{"errorMessage":"not found"}')

        self._server = _Server(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def submit(self, event: Any) -> Invocation:
        payload = event if isinstance(event, bytes) else json.dumps(event).encode()
        inv = Invocation(payload=payload, queued_at=time.perf_counter())
        self._queue.put(inv)
        return inv

    def wait(self, inv: Invocation, timeout: float, proc=None) -> Invocation:
        """Waits for `inv`'s answer; raises FunctionFailed on /error, init error, death or timeout."""
        end = time.monotonic() + timeout
        while not inv.done.wait(0.05):
            if self.init_error is not None:
                raise FunctionFailed(f"{self.function_name}: init error: {self.init_error[:500]!r}")
            if proc is not None and proc.poll() is not None:
                raise FunctionFailed(f"{self.function_name}: process exited with {proc.returncode}")
            if time.monotonic() > end:
                raise FunctionFailed(f"{self.function_name}: no answer within {timeout:.0f} s")
        if inv.kind == "error":
            raise FunctionFailed(f"{self.function_name}: function error: {inv.body[:500]!r}")
        return inv

    def invoke(self, event: Any, timeout: float = 30.0, proc=None) -> Invocation:
        return self.wait(self.submit(event), timeout, proc)

    def close(self) -> None:
        self._closed.set()
        self._server.shutdown()
        self._server.server_close()
