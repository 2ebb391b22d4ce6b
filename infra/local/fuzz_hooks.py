"""schemathesis hooks for infra/local/fuzz_api.sh.

* Bodies that are not UTF-8: one JSON body in four is sent as bytes that are not UTF-8 (an
  invalid sequence inside its first string, or a stray byte), as a client could send them. The
  front hands such bodies on base64-encoded, as API Gateway does, and every function must answer
  a 400 problem (never a 5xx, never an undocumented answer).
* The developer session: every session route is called with the session of the developer
  fuzz_api.sh created, except `logout`, which gets a session of its own per call (logged in here)
  so that fuzzing it does not end the session the other operations use. schemathesis learns ids
  from responses (the developer's own, from `/me` and `login`): an admin change or delete aimed
  at that developer is aimed at a decoy developer instead, so the session stays valid.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.request

import schemathesis

_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def not_utf8(body) -> bytes:
    """The JSON text of `body` made invalid UTF-8, deterministically."""
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    quote = data.find(b'"')
    if quote < 0:
        return data + b"\xff"
    return data[: quote + 1] + b"\xc3\x28" + data[quote + 1 :]


@schemathesis.hook
def map_body(context, body):
    if isinstance(body, (bytes, bytearray)):
        return body
    try:
        digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).digest()
    except (TypeError, ValueError):
        return body
    return not_utf8(body) if digest[0] % 4 == 0 else body


def _fresh_session() -> str:
    api, portal = os.environ.get("GATEHOUSE_API", ""), os.environ.get("GATEHOUSE_FUZZ_PORTAL_ID", "")
    body = json.dumps({"login": os.environ.get("GATEHOUSE_FUZZ_LOGIN", ""), "password": os.environ.get("GATEHOUSE_FUZZ_PASSWORD", "")})
    req = urllib.request.Request(f"{api}/portals/{portal}/login", data=body.encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with _HTTP.open(req, timeout=30) as resp:
            return json.loads(resp.read())["token"]
    except Exception:  # throttled or refused: a session nobody uses, never the shared one
        return "ghs_fuzz-logout-without-a-session"


@schemathesis.hook
def before_call(context, case, kwargs):
    session = os.environ.get("GATEHOUSE_FUZZ_SESSION")
    headers = case.headers or {}
    if session and case.operation.path.endswith("/logout") and headers.get("Authorization") == f"Bearer {session}":
        headers["Authorization"] = f"Bearer {_fresh_session()}"
        case.headers = headers
    params = case.path_parameters or {}
    developer, decoy = os.environ.get("GATEHOUSE_FUZZ_DEVELOPER_ID"), os.environ.get("GATEHOUSE_FUZZ_DECOY_ID")
    if developer and decoy and case.method.upper() in ("PATCH", "DELETE") and params.get("developer_id") == developer:
        params["developer_id"] = decoy
        case.path_parameters = params
