"""End-to-end test of the local OpenID Provider (infra/local/oidc/provider.mjs), from outside.

    python3 -m unittest infra/local/oidc/test_provider.py

Starts the provider with the committed config.json on a free loopback port, signs users in the
way a relying party and a browser would (authorization code + PKCE S256, following redirects and
posting the provider's own login form), exchanges codes at the token endpoint, verifies ID tokens
against the published JWKS with joserfc, and checks every admin hook. Needs Node and the folder's
npm dependencies (`bash infra/setup.sh` installs them) and joserfc (infra/requirements.txt).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
import uuid
from html.parser import HTMLParser
from http.cookiejar import CookieJar
from pathlib import Path

from joserfc import jwt
from joserfc.errors import BadSignatureError, JoseError
from joserfc.jwk import KeySet

HERE = Path(__file__).resolve().parent
CONFIG = json.loads((HERE / "config.json").read_text())
CLIENT = next(c for c in CONFIG["clients"] if c["client_id"] == "gatehouse-local")
CONSENT_CLIENT = next(c for c in CONFIG["clients"] if c.get("skip_consent") is False)
USERS = {u["username"]: u for u in CONFIG["users"]}
SCOPE = "openid email profile groups"
START_TIMEOUT = 15


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Response:
    def __init__(self, status: int, headers, body: bytes):
        self.status, self.headers, self.body = status, headers, body

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self):
        return json.loads(self.body)

    @property
    def location(self) -> str | None:
        return self.headers.get("Location")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """A user agent with its own cookie jar that never follows redirects by itself."""

    def __init__(self):
        self.jar = CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect()
        )

    def request(self, method: str, url: str, *, form: dict | None = None, body: dict | None = None,
                headers: dict | None = None) -> Response:
        data, hdrs = None, dict(headers or {})
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
        try:
            with self.opener.open(req, timeout=10) as r:
                return Response(r.status, r.headers, r.read())
        except urllib.error.HTTPError as e:
            return Response(e.code, e.headers, e.read())


class Forms(HTMLParser):
    """The forms of a page: [{"action": ..., "method": ..., "fields": {name: value}}]."""

    def __init__(self, html: str):
        super().__init__()
        self.forms: list[dict] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action", ""), "method": a.get("method", "get").lower(), "fields": {}})
        elif tag == "input" and self.forms and a.get("name"):
            self.forms[-1]["fields"][a["name"]] = a.get("value") or ""

    def ending(self, suffix: str) -> dict | None:
        return next((f for f in self.forms if f["action"].endswith(suffix)), None)


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def b64json(segment: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def provider_env(**env) -> dict:
    if not (HERE / "node_modules" / "oidc-provider").is_dir():
        raise RuntimeError("infra/local/oidc/node_modules is missing: run `bash infra/setup.sh` first")
    base = {k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_OIDC_")}
    return {**base, **env}


def start_provider(**env) -> tuple[subprocess.Popen, str, dict]:
    """Starts provider.mjs on a free port; returns the process, the issuer and its discovery."""
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    out = None if os.environ.get("OIDC_TEST_VERBOSE") else subprocess.DEVNULL
    proc = subprocess.Popen(["node", str(HERE / "provider.mjs")], stdout=out, stderr=out,
                            env=provider_env(GATEHOUSE_OIDC_PORT=str(port), **env))
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the provider exited with {proc.returncode} (rerun with OIDC_TEST_VERBOSE=1)")
        try:
            r = Browser().request("GET", issuer + "/.well-known/openid-configuration")
            if r.status == 200:
                return proc, issuer, r.json()
        except OSError:
            pass
        if time.monotonic() > deadline:
            stop_provider(proc)
            raise RuntimeError(f"the provider did not answer within {START_TIMEOUT}s")
        time.sleep(0.1)


def stop_provider(proc: subprocess.Popen):
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class ProviderTest(unittest.TestCase):
    proc: subprocess.Popen
    issuer: str
    admin_key: str

    @classmethod
    def setUpClass(cls):
        cls.admin_key = secrets.token_urlsafe(32)
        cls.proc, cls.issuer, cls.discovery = start_provider(GATEHOUSE_OIDC_ADMIN_KEY=cls.admin_key)
        cls.jwks = Browser().request("GET", cls.discovery["jwks_uri"]).json()

    @classmethod
    def tearDownClass(cls):
        stop_provider(cls.proc)

    # --- helpers ------------------------------------------------------------------------------

    def admin(self, method: str, path: str, body=None, key: str | None = None) -> Response:
        return Browser().request(method, self.issuer + "/__admin" + path, body=body,
                                 headers={"Authorization": f"Bearer {key or self.admin_key}"})

    def register_client(self, redirect_uri: str, **metadata) -> dict:
        r = Browser().request("POST", self.discovery["registration_endpoint"],
                              body={"redirect_uris": [redirect_uri], **metadata},
                              headers={"Authorization": f"Bearer {self.admin_key}"})
        self.assertEqual(r.status, 201, r.text)
        return r.json()

    def authorize(self, browser: Browser, client_id: str, redirect_uri: str, **overrides) -> tuple[Response, dict]:
        verifier, challenge = pkce_pair()
        params = {
            "response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "scope": SCOPE,
            "state": secrets.token_urlsafe(16), "nonce": secrets.token_urlsafe(16),
            "code_challenge": challenge, "code_challenge_method": "S256",
        }
        params.update(overrides)
        params = {k: v for k, v in params.items() if v is not None}
        r = browser.request("GET", self.discovery["authorization_endpoint"] + "?" + urllib.parse.urlencode(params))
        return r, {**params, "code_verifier": verifier}

    def follow(self, browser: Browser, r: Response, redirect_uri: str) -> Response:
        """Follows redirects until a page is shown or the provider sends the browser back. Posts
        the provider's self-submitting form that ends the previous user's session when another
        user signs in in the same browser (its <noscript> button is how a browser without
        JavaScript goes on)."""
        for _ in range(10):
            if r.status == 200 and (form := Forms(r.text).ending("/session/end/confirm")):
                r = browser.request("POST", form["action"], form=form["fields"])
                continue
            if r.status not in (302, 303) or r.location.startswith(redirect_uri):
                return r
            r = browser.request("GET", urllib.parse.urljoin(self.issuer + "/", r.location))
        self.fail("redirect loop")

    def submit(self, browser: Browser, page: Response, suffix: str, fields: dict | None = None) -> Response:
        form = Forms(page.text).ending(suffix)
        self.assertIsNotNone(form, f"no form posting to *{suffix} on the page: {page.text[:500]}")
        self.assertEqual(form["method"], "post")
        return browser.request("POST", urllib.parse.urljoin(self.issuer + "/", form["action"]),
                               form={**form["fields"], **(fields or {})})

    def sign_in(self, username: str, client: dict | None = None, *, browser: Browser | None = None,
                consent: bool = False, **overrides) -> dict:
        """The whole front channel; returns the callback's query plus what the RP keeps."""
        client = client or CLIENT
        redirect_uri = client["redirect_uris"][0]
        browser = browser or Browser()
        r, sent = self.authorize(browser, client["client_id"], redirect_uri, **overrides)
        r = self.follow(browser, r, redirect_uri)
        if r.status == 200 and Forms(r.text).ending("/login"):
            user = USERS.get(username, {"password": overrides.get("password", "")})
            r = self.follow(browser, self.submit(browser, r, "/login",
                                                 {"username": username, "password": user["password"]}), redirect_uri)
        if consent:
            self.assertEqual(r.status, 200, "the consent page was expected")
            r = self.follow(browser, self.submit(browser, r, "/confirm"), redirect_uri)
        self.assertIn(r.status, (302, 303), r.text[:500])
        self.assertTrue(r.location.startswith(redirect_uri + "?"), r.location)
        back = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(r.location).query))
        return {**back, "sent": sent, "redirect_uri": redirect_uri, "client": client}

    def exchange(self, signed_in: dict, *, auth: str = "basic", verifier: str | None = None) -> Response:
        client = signed_in["client"]
        form = {"grant_type": "authorization_code", "code": signed_in["code"],
                "redirect_uri": signed_in["redirect_uri"],
                "code_verifier": verifier or signed_in["sent"]["code_verifier"]}
        headers = {}
        if auth == "basic":
            pair = f"{urllib.parse.quote(client['client_id'], safe='')}:{urllib.parse.quote(client['client_secret'], safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        else:
            form.update(client_id=client["client_id"], client_secret=client["client_secret"])
        return Browser().request("POST", self.discovery["token_endpoint"], form=form, headers=headers)

    def id_token_for(self, username: str, client: dict | None = None, **kw) -> tuple[str, dict]:
        signed_in = self.sign_in(username, client)
        r = self.exchange(signed_in, **kw)
        self.assertEqual(r.status, 200, r.text)
        return r.json()["id_token"], signed_in

    def verified_claims(self, id_token: str, jwks: dict | None = None) -> dict:
        token = jwt.decode(id_token, KeySet.import_key_set(jwks or self.jwks), algorithms=["RS256"])
        return token.claims

    def assert_valid_for(self, claims: dict, signed_in: dict):
        now = time.time()
        self.assertEqual(claims["iss"], self.issuer)
        self.assertEqual(claims["aud"], signed_in["client"]["client_id"])
        self.assertEqual(claims["nonce"], signed_in["sent"]["nonce"])
        self.assertGreater(claims["exp"], now)
        self.assertLessEqual(claims["iat"], now + 5)

    def set_faults(self, client_id: str, faults: dict):
        r = self.admin("PUT", f"/clients/{client_id}/id-token-faults", faults)
        self.assertEqual(r.status, 200, r.text)
        self.addCleanup(self.admin, "DELETE", f"/clients/{client_id}/id-token-faults")

    def fresh_client(self) -> dict:
        """A client of its own, so that faults set by one test never reach another."""
        portal, idp = uuid.uuid4(), uuid.uuid4()
        return self.register_client(f"http://127.0.0.1:9000/api/portals/{portal}/sso/{idp}/callback")

    # --- discovery and keys -------------------------------------------------------------------

    def test_discovery_describes_a_loopback_issuer_with_code_flow_s256_pkce_and_a_groups_scope(self):
        d = self.discovery
        self.assertEqual(d["issuer"], self.issuer)
        for endpoint in ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint", "registration_endpoint"):
            self.assertTrue(d[endpoint].startswith(self.issuer + "/"), endpoint)
        self.assertEqual(d["response_types_supported"], ["code"])
        self.assertEqual(d["code_challenge_methods_supported"], ["S256"])
        self.assertEqual(d["id_token_signing_alg_values_supported"], ["RS256"])
        self.assertEqual(sorted(d["token_endpoint_auth_methods_supported"]), ["client_secret_basic", "client_secret_post"])
        self.assertLessEqual({"openid", "email", "profile", "groups"}, set(d["scopes_supported"]))
        self.assertLessEqual({"sub", "email", "email_verified", "name", "groups"}, set(d["claims_supported"]))
        self.assertNotIn("refresh_token", d["grant_types_supported"])

    def test_the_jwks_publishes_one_public_rsa_signing_key_and_not_the_unpublished_one(self):
        keys = self.jwks["keys"]
        self.assertEqual(len(keys), 1)
        self.assertEqual((keys[0]["kty"], keys[0]["alg"], keys[0]["use"]), ("RSA", "RS256", "sig"))
        self.assertFalse({"d", "p", "q", "dp", "dq", "qi"} & set(keys[0]), "private members leaked")
        hidden = self.admin("GET", "/keys/unpublished").json()["keys"][0]
        self.assertNotEqual(hidden["kid"], keys[0]["kid"])
        self.assertNotEqual(hidden["n"], keys[0]["n"])
        self.assertNotIn("d", hidden)

    # --- the flow -----------------------------------------------------------------------------

    def test_a_user_signs_in_through_the_login_form_and_the_id_token_verifies_against_the_jwks(self):
        signed_in = self.sign_in("alice")
        self.assertEqual(signed_in["state"], signed_in["sent"]["state"])
        self.assertEqual(signed_in["iss"], self.issuer)
        r = self.exchange(signed_in, auth="basic")
        self.assertEqual(r.status, 200, r.text)
        tokens = r.json()
        self.assertEqual(tokens["token_type"], "Bearer")
        self.assertNotIn("refresh_token", tokens)
        header = b64json(tokens["id_token"].split(".")[0])
        self.assertEqual((header["alg"], header["kid"]), ("RS256", self.jwks["keys"][0]["kid"]))
        claims = self.verified_claims(tokens["id_token"])
        self.assert_valid_for(claims, signed_in)
        alice = USERS["alice"]["claims"]
        for name in ("sub", "email", "email_verified", "name", "groups"):
            self.assertEqual(claims[name], alice[name], name)
        self.assertGreater(len(claims["groups"]), 1)
        me = Browser().request("GET", self.discovery["userinfo_endpoint"],
                               headers={"Authorization": f"Bearer {tokens['access_token']}"})
        self.assertEqual(me.status, 200, me.text)
        self.assertEqual(me.json()["groups"], alice["groups"])

    def test_client_secret_post_is_accepted_at_the_token_endpoint_as_well_as_basic(self):
        r = self.exchange(self.sign_in("bob"), auth="post")
        self.assertEqual(r.status, 200, r.text)
        self.assertEqual(self.verified_claims(r.json()["id_token"])["sub"], USERS["bob"]["claims"]["sub"])

    def test_an_unverified_address_is_released_with_email_verified_false(self):
        id_token, _ = self.id_token_for("carol")
        claims = self.verified_claims(id_token)
        self.assertIs(claims["email_verified"], False)
        self.assertEqual(claims["email"], USERS["carol"]["claims"]["email"])

    def test_groups_are_left_out_of_the_id_token_when_the_groups_scope_is_not_asked_for(self):
        signed_in = self.sign_in("alice", scope="openid email")
        claims = self.verified_claims(self.exchange(signed_in).json()["id_token"])
        self.assertNotIn("groups", claims)
        self.assertNotIn("name", claims)
        self.assertEqual(claims["email"], USERS["alice"]["claims"]["email"])

    def test_a_wrong_password_shows_the_form_again_with_an_error_and_no_code(self):
        browser = Browser()
        r, _ = self.authorize(browser, CLIENT["client_id"], CLIENT["redirect_uris"][0])
        page = self.follow(browser, r, CLIENT["redirect_uris"][0])
        r = self.submit(browser, page, "/login", {"username": "alice", "password": "not-alice-password"})
        self.assertEqual(r.status, 200)
        self.assertIn("Invalid username or password", r.text)
        self.assertIsNotNone(Forms(r.text).ending("/login"))
        r = self.submit(browser, page, "/login", {"username": "nobody", "password": "x"})
        self.assertIn("Invalid username or password", r.text)

    def test_cancelling_on_the_login_form_sends_access_denied_back_to_the_client(self):
        browser = Browser()
        r, sent = self.authorize(browser, CLIENT["client_id"], CLIENT["redirect_uris"][0])
        page = self.follow(browser, r, CLIENT["redirect_uris"][0])
        r = self.follow(browser, self.submit(browser, page, "/abort"), CLIENT["redirect_uris"][0])
        back = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(r.location).query))
        self.assertEqual(back["error"], "access_denied")
        self.assertEqual(back["state"], sent["state"])
        self.assertNotIn("code", back)

    def test_an_authorization_request_without_pkce_or_with_plain_pkce_is_refused(self):
        for overrides in ({"code_challenge": None, "code_challenge_method": None},
                          {"code_challenge_method": "plain"}):
            r, _ = self.authorize(Browser(), CLIENT["client_id"], CLIENT["redirect_uris"][0], **overrides)
            self.assertEqual(r.status, 303, overrides)
            back = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(r.location).query))
            self.assertEqual(back["error"], "invalid_request", overrides)
            self.assertNotIn("code", back)

    def test_an_unregistered_redirect_uri_is_refused_without_a_redirect(self):
        r, _ = self.authorize(Browser(), CLIENT["client_id"], "http://127.0.0.1:8080/elsewhere")
        self.assertEqual(r.status, 400)
        self.assertIn("redirect_uri", r.text)

    def test_the_token_endpoint_refuses_a_wrong_code_verifier_a_replayed_code_and_a_wrong_secret(self):
        signed_in = self.sign_in("alice")
        r = self.exchange(signed_in, verifier=pkce_pair()[0])
        self.assertEqual((r.status, r.json()["error"]), (400, "invalid_grant"))
        signed_in = self.sign_in("alice")
        self.assertEqual(self.exchange(signed_in).status, 200)
        r = self.exchange(signed_in)
        self.assertEqual((r.status, r.json()["error"]), (400, "invalid_grant"))
        signed_in = self.sign_in("alice")
        signed_in["client"] = {**CLIENT, "client_secret": "wrong"}
        r = self.exchange(signed_in)
        self.assertEqual((r.status, r.json()["error"]), (401, "invalid_client"))

    def test_a_second_sign_in_in_the_same_browser_reuses_the_provider_session(self):
        browser = Browser()
        first = self.sign_in("alice", browser=browser)
        r, _ = self.authorize(browser, CLIENT["client_id"], CLIENT["redirect_uris"][0])
        r = self.follow(browser, r, CLIENT["redirect_uris"][0])
        self.assertIn(r.status, (302, 303), "no login form the second time")
        back = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(r.location).query))
        self.assertNotEqual(back["code"], first["code"])
        r = self.sign_in("bob", browser=browser, prompt="login")  # prompt=login forces the form
        claims = self.verified_claims(self.exchange(r).json()["id_token"])
        self.assertEqual(claims["sub"], USERS["bob"]["claims"]["sub"])

    def test_a_client_that_asks_for_consent_shows_the_consent_page_before_the_code(self):
        signed_in = self.sign_in("bob", CONSENT_CLIENT, consent=True)
        r = self.exchange(signed_in, auth="post")
        self.assertEqual(r.status, 200, r.text)
        self.assertEqual(self.verified_claims(r.json()["id_token"])["groups"], USERS["bob"]["claims"]["groups"])

    # --- run-time clients and users -----------------------------------------------------------

    def test_a_client_registered_at_run_time_signs_a_user_in_at_a_gatehouse_callback(self):
        client = self.fresh_client()
        self.assertEqual(client["token_endpoint_auth_method"], "client_secret_basic")
        self.assertRegex(client["redirect_uris"][0], r"^http://127\.0\.0\.1:9000/api/portals/[^/]+/sso/[^/]+/callback$")
        id_token, signed_in = self.id_token_for("dave", client)
        claims = self.verified_claims(id_token)
        self.assert_valid_for(claims, signed_in)
        self.assertEqual(claims["groups"], [])

    def test_registration_and_the_admin_api_refuse_a_missing_or_wrong_key(self):
        reg = self.discovery["registration_endpoint"]
        body = {"redirect_uris": ["http://127.0.0.1:9000/cb"]}
        r = Browser().request("POST", reg, body=body)
        self.assertEqual((r.status, r.json()["error"]), (400, "invalid_request"))  # oidc-provider's answer
        self.assertEqual(Browser().request("POST", reg, body=body, headers={"Authorization": "Bearer wrong"}).status, 401)
        self.assertEqual(self.admin("GET", "/users", key="wrong").status, 401)
        self.assertEqual(Browser().request("GET", self.issuer + "/__admin/users").status, 401)
        self.assertEqual(self.admin("GET", "/users").status, 200)

    def test_a_user_changed_at_run_time_gets_the_new_claims_at_the_next_sign_in(self):
        username = f"erin-{uuid.uuid4().hex[:8]}"
        sub = str(uuid.uuid4())
        user = {"password": "erin-password",
                "claims": {"sub": sub, "email": f"{username}@partner.example", "email_verified": False,
                           "name": "Erin", "groups": ["partners"]}}
        self.assertEqual(self.admin("PUT", f"/users/{username}", user).status, 201)
        USERS[username] = {"username": username, **user}
        self.addCleanup(USERS.pop, username)
        claims = self.verified_claims(self.id_token_for(username)[0])
        self.assertEqual((claims["sub"], claims["groups"], claims["email_verified"]), (sub, ["partners"], False))
        user["claims"].update(groups=["engineering", "support"], email_verified=True)
        self.assertEqual(self.admin("PUT", f"/users/{username}", user).status, 200)
        claims = self.verified_claims(self.id_token_for(username)[0])
        self.assertEqual((claims["groups"], claims["email_verified"]), (["engineering", "support"], True))
        self.assertEqual(self.admin("DELETE", f"/users/{username}").status, 204)
        self.assertEqual(self.admin("GET", f"/users/{username}").status, 404)

    def test_a_user_may_not_take_another_user_s_sub_or_lack_one(self):
        taken = {"password": "p", "claims": {"sub": USERS["alice"]["claims"]["sub"]}}
        self.assertEqual(self.admin("PUT", "/users/mallory", taken).status, 409)
        r = self.admin("PUT", "/users/mallory", {"password": "p", "claims": {"email": "m@x.example"}})
        self.assertEqual(r.status, 400)
        self.assertIn("sub", r.json()["detail"])

    # --- refusal hooks ------------------------------------------------------------------------

    def test_the_unpublished_key_hook_signs_with_a_key_whose_kid_is_not_in_the_jwks(self):
        client = self.fresh_client()
        self.set_faults(client["client_id"], {"signing_key": "unpublished"})
        id_token, signed_in = self.id_token_for("alice", client)
        kid = b64json(id_token.split(".")[0])["kid"]
        self.assertNotIn(kid, [k["kid"] for k in self.jwks["keys"]])
        with self.assertRaises(JoseError):
            self.verified_claims(id_token)
        hidden = self.admin("GET", "/keys/unpublished").json()
        claims = self.verified_claims(id_token, hidden)  # well formed, only the key is wrong
        self.assert_valid_for(claims, signed_in)

    def test_the_unpublished_key_under_the_published_kid_fails_signature_verification(self):
        client = self.fresh_client()
        self.set_faults(client["client_id"], {"signing_key": "unpublished_with_published_kid"})
        id_token, signed_in = self.id_token_for("alice", client)
        self.assertEqual(b64json(id_token.split(".")[0])["kid"], self.jwks["keys"][0]["kid"])
        with self.assertRaises(BadSignatureError):
            self.verified_claims(id_token)
        hidden = self.admin("GET", "/keys/unpublished").json()["keys"][0]
        hidden["kid"] = self.jwks["keys"][0]["kid"]
        self.assert_valid_for(self.verified_claims(id_token, {"keys": [hidden]}), signed_in)

    def test_the_audience_and_issuer_hooks_issue_correctly_signed_tokens_for_someone_else(self):
        client = self.fresh_client()
        self.set_faults(client["client_id"], {"aud": "another-client"})
        id_token, signed_in = self.id_token_for("alice", client)
        claims = self.verified_claims(id_token)
        self.assertEqual(claims["aud"], "another-client")
        self.assertEqual((claims["iss"], claims["nonce"]), (self.issuer, signed_in["sent"]["nonce"]))
        self.set_faults(client["client_id"], {"iss": "http://127.0.0.1:1"})
        claims = self.verified_claims(self.id_token_for("alice", client)[0])
        self.assertEqual((claims["iss"], claims["aud"]), ("http://127.0.0.1:1", client["client_id"]))

    def test_the_expired_hook_issues_a_token_whose_exp_is_in_the_past(self):
        client = self.fresh_client()
        self.set_faults(client["client_id"], {"expired": True})
        claims = self.verified_claims(self.id_token_for("alice", client)[0])
        now = time.time()
        self.assertLess(claims["exp"], now - 300)
        self.assertLess(claims["iat"], claims["exp"])
        with self.assertRaises(JoseError):
            jwt.JWTClaimsRegistry().validate(claims)

    def test_the_nonce_hook_leaves_the_nonce_out_and_nothing_else(self):
        client = self.fresh_client()
        self.set_faults(client["client_id"], {"omit_nonce": True})
        id_token, signed_in = self.id_token_for("alice", client)
        claims = self.verified_claims(id_token)
        self.assertNotIn("nonce", claims)
        self.assertEqual((claims["iss"], claims["aud"]), (self.issuer, client["client_id"]))
        self.assertGreater(claims["exp"], time.time())

    def test_hooks_apply_to_their_client_only_and_clearing_them_restores_valid_tokens(self):
        faulty, other = self.fresh_client(), self.fresh_client()
        self.set_faults(faulty["client_id"], {"signing_key": "unpublished", "aud": "x", "omit_nonce": True})
        with self.assertRaises(JoseError):
            self.verified_claims(self.id_token_for("bob", faulty)[0])
        id_token, signed_in = self.id_token_for("bob", other)
        self.assert_valid_for(self.verified_claims(id_token), signed_in)
        self.assertEqual(self.admin("GET", f"/clients/{faulty['client_id']}/id-token-faults").json()["aud"], "x")
        self.assertEqual(self.admin("DELETE", f"/clients/{faulty['client_id']}/id-token-faults").status, 204)
        self.assertEqual(self.admin("GET", f"/clients/{faulty['client_id']}/id-token-faults").json(), {})
        id_token, signed_in = self.id_token_for("bob", faulty)
        self.assert_valid_for(self.verified_claims(id_token), signed_in)

    def test_hooks_refuse_unknown_fields_bad_values_and_unknown_clients(self):
        cid = CLIENT["client_id"]
        for body in ({"signing_key": "mine"}, {"expired": "yes"}, {"aud": 3}, {"typo": True}, []):
            r = self.admin("PUT", f"/clients/{cid}/id-token-faults", body)
            self.assertEqual(r.status, 400, body)
            self.assertEqual(r.headers["Content-Type"], "application/problem+json")
        self.assertEqual(self.admin("GET", f"/clients/{cid}/id-token-faults").json(), {})
        self.assertEqual(self.admin("PUT", "/clients/no-such-client/id-token-faults", {"expired": True}).status, 404)


class StartUpTest(unittest.TestCase):
    def test_without_an_admin_key_registration_and_the_admin_api_are_off(self):
        proc, issuer, discovery = start_provider()
        try:
            self.assertNotIn("registration_endpoint", discovery)
            r = Browser().request("GET", issuer + "/__admin/users", headers={"Authorization": "Bearer "})
            self.assertEqual(r.status, 404)
            r = Browser().request("POST", issuer + "/reg", body={"redirect_uris": ["http://127.0.0.1:9000/cb"]})
            self.assertEqual(r.status, 404)
        finally:
            stop_provider(proc)

    def test_a_config_where_two_users_share_a_sub_is_refused_at_start_with_a_sentence(self):
        users = [dict(u) for u in CONFIG["users"][:2]]
        users[1]["claims"] = {**users[1]["claims"], "sub": users[0]["claims"]["sub"]}
        with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
            json.dump({**CONFIG, "users": users}, f)
            f.flush()
            r = subprocess.run(["node", str(HERE / "provider.mjs")], capture_output=True, text=True, timeout=15,
                               env=provider_env(GATEHOUSE_OIDC_PORT=str(free_port()), GATEHOUSE_OIDC_CONFIG=f.name))
        self.assertEqual(r.returncode, 1)
        self.assertIn("already belongs to user", r.stderr)


if __name__ == "__main__":
    unittest.main()
