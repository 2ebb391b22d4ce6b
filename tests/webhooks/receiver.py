"""A loopback webhook receiver and the stack's small HTTP helpers, shared by the end-to-end
webhook tests (tests/webhooks/test_delivery.py) and the benchmark's delivery section
(infra/bench/webhooks.py).

`Receiver(answer)` listens on 127.0.0.1 on a free port; every POST is kept as
`(headers, body)` in `requests` (headers as sent, body text) with the status it got in
`statuses`; `answer(n, headers, body)` chooses that status (`n`: the request's number, from 1;
`headers` with lower-case names). Read the lists under `lock`.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no proxy: the stack is on loopback


def env_file(path: Path) -> dict[str, str]:
    """`KEY=value` lines (the stack's .gatehouse/local.env) as a dict."""
    env = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep:
            env[key.strip()] = value.strip()
    return env


def call(method: str, url: str, body=None, token: str | None = None):
    """One JSON request, no proxy: (status, decoded body or None)."""
    req = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode(), method=method,
                                 headers={"content-type": "application/json"})
    if token:
        req.add_header("authorization", f"Bearer {token}")
    try:
        with OPENER.open(req, timeout=60) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


class Receiver:
    def __init__(self, answer=lambda n, headers, body: 200, poll_interval: float = 0.1):
        self.answer, self.lock, self.requests, self.statuses = answer, threading.Lock(), [], []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                headers = dict(self.headers.items())
                with receiver.lock:
                    receiver.requests.append((headers, body))
                    status = receiver.answer(len(receiver.requests), {k.lower(): v for k, v in headers.items()}, body)
                    receiver.statuses.append(status)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": poll_interval}, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
