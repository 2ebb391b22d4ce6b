"""The local stack as the browser tests see it: its settings, its JSON API over plain HTTP and
its mailbox. Settings come from `.gatehouse/local.env` (written by `infra/local/up.sh`); the
environment overrides any of them, and `GATEHOUSE_ENV_FILE` names another file."""

from __future__ import annotations

import html.parser
import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
STRONG_PASSWORD = "correct horse battery staple"
KEYS = ("GATEHOUSE_API", "GATEHOUSE_ADMIN_TOKEN", "GATEHOUSE_PORTAL_ID", "GATEHOUSE_MAILBOX")

# Loopback only, whatever proxy the environment names.
_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class StackDown(Exception):
    """The local stack is not running (or not reachable from this network namespace)."""


def env_file() -> Path:
    return Path(os.environ.get("GATEHOUSE_ENV_FILE") or REPO / ".gatehouse" / "local.env")


def read_env(path: Path | None = None) -> dict[str, str]:
    """`KEY=value` lines of the env file (missing file: empty), overridden by the environment."""
    path = path or env_file()
    values: dict[str, str] = {}
    try:
        for line in path.read_text(encoding="utf-8").splitlines():
            key, sep, value = line.partition("=")
            if sep and not key.lstrip().startswith("#"):
                values[key.strip()] = value.strip()
    except FileNotFoundError:
        pass
    for key in KEYS:
        if os.environ.get(key):
            values[key] = os.environ[key]
    return values


def origin_of(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def unique_email(tag: str) -> str:
    """An address no other test uses, so tests can share one stack."""
    return f"{tag}-{uuid.uuid4().hex}@example.com"


def unique_username(tag: str) -> str:
    return f"{tag}{uuid.uuid4().hex[:10]}"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    text: str

    @property
    def body(self) -> Any:
        """The JSON body (None when empty; the text when it is not JSON)."""
        if not self.text:
            return None
        try:
            return json.loads(self.text)
        except ValueError:
            return self.text

    def expect(self, *statuses: int) -> "Reply":
        assert self.status in statuses, f"expected {' or '.join(map(str, statuses))}, got {self.status}: {self.text[:500]}"
        return self


def http(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None, timeout: float = 30.0) -> Reply:
    """One request; `body` is sent as JSON unless it is bytes. Never raises on an HTTP status."""
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None and not isinstance(body, bytes):
        req.add_header("Content-Type", "application/json")
    try:
        with _HTTP.open(req, timeout=timeout) as r:
            return Reply(r.status, {k.lower(): v for k, v in r.headers.items()}, r.read().decode("utf-8", "replace"))
    except urllib.error.HTTPError as e:
        return Reply(e.code, {k.lower(): v for k, v in e.headers.items()}, e.read().decode("utf-8", "replace"))


# ------------------------------------------------------------------------------ mailbox


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.links += [v for k, v in attrs if k == "href" and v]


_URL = re.compile(r"https?://[^\s<>\"')]+")


@dataclass
class Mail:
    """One sent mail as the mailbox reports it (`infra/local/sidecar.py`: the HTML part when
    there is one)."""

    to: list[str]
    subject: str
    body: str
    raw: dict = field(repr=False, default_factory=dict)

    def links(self) -> list[str]:
        """Every link of the mail, in order: the `href`s of an HTML body (entities decoded),
        else the URLs of a text body."""
        parser = _Links()
        parser.feed(self.body)
        found = parser.links or _URL.findall(self.body)
        return list(dict.fromkeys(found))

    def link(self, contains: str = "token=") -> str:
        """The first link whose URL contains `contains` (by default, the action link)."""
        for url in self.links():
            if contains in url:
                return url
        raise AssertionError(f"no link containing {contains!r} in the mail {self.subject!r}: {self.links()}")

    def token(self) -> str:
        """The `token` query parameter of the action link."""
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.link("token=")).query)
        return query["token"][0]


class Mailbox:
    """Reads `GATEHOUSE_MAILBOX` (GET returns every sent mail; `?to=` filters by recipient)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def to(self, address: str) -> list[Mail]:
        """Every mail sent to `address` so far (to, cc or bcc), oldest first."""
        r = http("GET", f"{self.url}?{urllib.parse.urlencode({'to': address})}").expect(200)
        return [Mail(m.get("to") or [], m.get("subject") or "", m.get("body") or "", m) for m in r.body]

    def wait_for(self, address: str, subject: str = "", n: int = 1, timeout: float = 30.0) -> list[Mail]:
        """Waits (bounded) until `address` has at least `n` mails whose subject contains
        `subject`; returns them, oldest first."""
        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in self.to(address) if subject in m.subject]
            if len(found) >= n:
                return found
            if time.monotonic() > deadline:
                seen = [m.subject for m in self.to(address)]
                raise AssertionError(f"no mail {subject!r} reached {address} within {timeout:.0f} s (it has: {seen})")
            time.sleep(0.2)

    def link(self, address: str, subject: str = "", contains: str = "token=", timeout: float = 30.0) -> str:
        """The link of the newest mail to `address` about `subject` (waits for the mail)."""
        return self.wait_for(address, subject, timeout=timeout)[-1].link(contains)


# ------------------------------------------------------------------------------ the API


@dataclass
class Developer:
    id: str
    email: str
    password: str
    name: str
    username: str | None = None

    @property
    def login(self) -> str:
        return self.username or self.email


class Stack:
    """The running local stack: `api` (…/api), `pages` (the same origin, where the developer
    pages and the console are served), the admin token, the demo portal and the mailbox."""

    def __init__(self, env: dict[str, str]) -> None:
        missing = [k for k in KEYS if not env.get(k)]
        if missing:
            raise StackDown(f"{env_file()} lacks {', '.join(missing)}")
        self.env = env
        self.api = env["GATEHOUSE_API"].rstrip("/")
        self.pages = origin_of(self.api)
        self.admin_token = env["GATEHOUSE_ADMIN_TOKEN"]
        self.portal_id = env["GATEHOUSE_PORTAL_ID"]
        self.mailbox = Mailbox(env["GATEHOUSE_MAILBOX"])

    @classmethod
    def connect(cls, timeout: float = 3.0) -> "Stack":
        """The stack, or StackDown with the reason when it is not up."""
        env = read_env()
        if not env.get("GATEHOUSE_API"):
            raise StackDown(f"{env_file()} is missing")
        stack = cls(env)
        try:
            status = http("GET", f"{stack.api}/portals/{uuid.UUID(int=0)}", timeout=timeout).status
        except OSError as e:
            raise StackDown(f"{stack.api} does not answer ({e.__class__.__name__}: {e})") from None
        if status != 401:
            raise StackDown(f"{stack.api} answers {status} where the portals route answers 401")
        try:
            http("GET", stack.mailbox.url.replace("/mailbox", "/healthz"), timeout=timeout).expect(200)
        except (OSError, AssertionError) as e:
            raise StackDown(f"the mailbox {stack.mailbox.url} does not answer ({e})") from None
        return stack

    # URLs of the pages

    def portal_page(self, portal_id: str, page: str = "", **query: str) -> str:
        """`/portal/{portal_id}/{page}?query` on the pages' origin."""
        url = f"{self.pages}/portal/{portal_id}/{page.lstrip('/')}"
        return f"{url}?{urllib.parse.urlencode(query)}" if query else url

    def console_page(self, path: str = "", **query: str) -> str:
        url = f"{self.pages}/console/{path.lstrip('/')}"
        return f"{url}?{urllib.parse.urlencode(query)}" if query else url

    # JSON API

    def send(self, method: str, path: str, body: Any = None, token: str | None = None, headers: dict[str, str] | None = None) -> Reply:
        """`method` `/api{path}` with an optional JSON body and bearer token."""
        h = dict(headers or {})
        if token:
            h["Authorization"] = f"Bearer {token}"
        return http(method, f"{self.api}{path}", body, h)

    def admin(self, method: str, path: str, body: Any = None) -> Reply:
        return self.send(method, path, body, token=self.admin_token)

    def create_portal(self, name: str = "Test portal", **settings: Any) -> str:
        """A fresh portal for one test (settings merged at creation); returns its id."""
        return self.admin("POST", "/portals", {"name": name, **settings}).expect(201).body["id"]

    def update_portal(self, portal_id: str, name: str | None = None, **settings: Any) -> dict:
        body: dict[str, Any] = {"settings": settings} if settings else {}
        if name is not None:
            body["name"] = name
        return self.admin("PATCH", f"/portals/{portal_id}", body).expect(200).body

    def register(self, portal_id: str, email: str, password: str = STRONG_PASSWORD, name: str = "Ada Lovelace", username: str | None = None) -> Reply:
        body = {"email": email, "password": password, "name": name}
        if username:
            body["username"] = username
        return self.send("POST", f"/portals/{portal_id}/register", body)

    def verify_email(self, portal_id: str, email: str) -> None:
        """Confirms `email` the way its owner does: with the token of the link in its newest
        verification mail (a self-registered developer must do so before signing in where the
        portal sets `require_verified_email`, the default from v2 on)."""
        token = self.mailbox.wait_for(email, "Confirm your email")[-1].token()
        self.send("POST", f"/portals/{portal_id}/verify-email", {"token": token}).expect(204)

    def developer(self, portal_id: str, developer_id: str) -> dict:
        return self.admin("GET", f"/portals/{portal_id}/developers/{developer_id}").expect(200).body

    def developers(self, portal_id: str, **query: str) -> dict:
        """`GET .../developers?state=&q=&limit=&cursor=`: `{"list", "total", "next_cursor"}`."""
        return self.admin("GET", f"/portals/{portal_id}/developers?{urllib.parse.urlencode(query)}").expect(200).body

    def set_state(self, portal_id: str, developer_id: str, state: str) -> dict:
        """Moves a developer to `approved`, `rejected`, `revoked` or `pending`."""
        return self._change_state(portal_id, developer_id, state).expect(200).body

    def _change_state(self, portal_id: str, developer_id: str, state: str) -> Reply:
        return self.admin("PATCH", f"/portals/{portal_id}/developers/{developer_id}", {"state": state})

    def approve(self, portal_id: str, developer_id: str) -> dict:
        return self.set_state(portal_id, developer_id, "approved")

    def wait_for_state(self, portal_id: str, developer_id: str, state: str, timeout: float = 30.0) -> dict:
        """Waits (bounded) until the developer is in `state`, e.g. auto-approved by the stream
        consumer after its confirmation; returns its record."""
        deadline = time.monotonic() + timeout
        while (record := self.developer(portal_id, developer_id))["state"] != state:
            if time.monotonic() > deadline:
                raise AssertionError(f"developer {developer_id} did not become {state!r} within {timeout:.0f} s: {record}")
            time.sleep(0.2)
        return record

    def reach_state(self, portal_id: str, developer_id: str, state: str) -> dict:
        """Moves the developer to `state` unless it is there already, robust to the stream
        consumer moving it meanwhile (auto-approval after the confirmation is asynchronous): a
        change refused while the state moved under it is retried from a fresh read; one refused
        by the lifecycle fails."""
        record = self.developer(portal_id, developer_id)
        for _ in range(5):
            if record["state"] == state:
                return record
            r = self._change_state(portal_id, developer_id, state)
            if r.status == 200:
                return r.body
            before, record = record, self.developer(portal_id, developer_id)
            if r.status != 409 or record["state"] == before["state"]:
                r.expect(200)
        raise AssertionError(f"developer {developer_id} kept moving and never reached {state!r}: {record}")

    def registered_developer(self, portal_id: str, email: str | None = None, name: str = "Ada Lovelace", username: str | None = None,
                             verify: bool = True, state: str | None = "approved") -> Developer:
        """Registers a developer through the API, confirms its address from the verification
        mail (`verify`; unconfirmed, a portal requiring confirmation answers its sign-in with
        the generic 401) and moves it to `state` (None leaves it as the portal's rules put it
        at once; an auto-approval after the confirmation may follow from the stream)."""
        email = email or unique_email("dev")
        r = self.register(portal_id, email, name=name, username=username).expect(202)
        dev = Developer(r.body["id"], email, STRONG_PASSWORD, name, username)
        if verify:
            self.verify_email(portal_id, email)
        if state:
            self.reach_state(portal_id, dev.id, state)
        return dev

    def invite(self, portal_id: str, *emails: str) -> dict:
        """Registration-link invites: `{"invites": [{"id", "email", "status", "expires_at"}]}`."""
        return self.admin("POST", f"/portals/{portal_id}/developers/invites", {"emails": list(emails)}).expect(201).body

    def invited_developer(self, portal_id: str, email: str | None = None, name: str = "Grace Hopper", username: str | None = None) -> Developer:
        """Invites `email` and accepts the invite through the API: an approved developer with a
        confirmed address."""
        email = email or unique_email("invited")
        self.invite(portal_id, email)
        token = self.mailbox.wait_for(email, "invited")[-1].token()
        body = {"token": token, "password": STRONG_PASSWORD, "name": name}
        if username:
            body["username"] = username
        r = self.send("POST", f"/portals/{portal_id}/invites/accept", body).expect(201)
        return Developer(r.body["id"], email, STRONG_PASSWORD, name, username)

    def login(self, portal_id: str, login: str, password: str = STRONG_PASSWORD) -> str:
        """A developer session token from the JSON login."""
        r = self.send("POST", f"/portals/{portal_id}/login", {"login": login, "password": password})
        if r.status == 401:
            raise AssertionError(f"the sign-in of {login!r} was refused (401: a wrong login or password or, where the portal requires "
                                 f"it, an address not confirmed yet: see registered_developer(verify=True)): {r.text[:300]}")
        return r.expect(200).body["token"]
