"""Single sign-on through the developer pages (issue 17) in headless Chromium against the local
stack: the sign-in page's "Sign in with …" link, the local OpenID Provider's own login form,
and back on the account page signed in (auto-approve on); the sign-in page with its link
checked with axe and photographed.

Run:  gh-netns NAME bash infra/local/up.sh --detach
      gh-netns NAME python3 -m pytest tests/browser/test_sso_pages.py -q
"""

from __future__ import annotations

import uuid

import pytest

from harness import site as hs
from harness.stack import http

PASSWORD = "pw-of-the-test"


def issuer(stack) -> str:
    return stack.env.get("GATEHOUSE_OIDC_ISSUER") or "http://127.0.0.1:9400"


def oidc_admin(stack, method: str, path: str, body) -> dict:
    headers = {"Authorization": f"Bearer {stack.env['GATEHOUSE_OIDC_ADMIN_KEY']}"}
    return http(method, f"{issuer(stack)}{path}", body, headers).expect(200, 201, 204).body


@pytest.fixture(scope="module")
def sso(stack) -> tuple[str, str]:
    """A portal with an auto-approving provider whose client is registered at the local
    provider (as `tests/tests/sso.rs` does it); (portal, idp)."""
    portal = stack.create_portal("Partner Portal")
    body = {
        "type": "oidc", "display_name": "Partner SSO", "auto_approve": True,
        "config": {"issuer_url": issuer(stack), "client_id": "placeholder", "client_secret": "placeholder",
                   "scopes": ["email", "profile", "groups"]},
    }
    idp = stack.admin("POST", f"/portals/{portal}/identity-providers", body).expect(201).body["id"]
    client = oidc_admin(stack, "POST", "/reg", {"redirect_uris": [f"{stack.pages}/api/portals/{portal}/sso/{idp}/callback"]})
    config = {"config": {"client_id": client["client_id"], "client_secret": client["client_secret"]}}
    stack.admin("PATCH", f"/portals/{portal}/identity-providers/{idp}", config).expect(200)
    return portal, idp


def test_a_developer_signs_in_with_the_portals_provider_from_the_sign_in_page_and_lands_on_the_account(stack, sso, page, axe, screenshot):
    portal, idp = sso
    tag = uuid.uuid4().hex
    username, email = f"u{tag[:12]}", f"u{tag[:12]}@partner.example"
    claims = {"sub": tag, "email": email, "email_verified": True, "name": "Grace Hopper", "groups": []}
    oidc_admin(stack, "PUT", f"/__admin/users/{username}", {"password": PASSWORD, "claims": claims})

    assert page.goto(stack.portal_page(portal, "login")).status == 200
    link = page.get_by_role("link", name="Sign in with Partner SSO")
    assert link.get_attribute("href") == f"/api/portals/{portal}/sso/{idp}/start?return_to=/portal/{portal}/account"
    assert hs.forbidden_markup(page.content()) == []
    assert issuer(stack) not in page.content(), "only the provider's id and display name reach the page"
    axe(page)
    screenshot(page, "login-with-sso")

    link.click()
    assert page.url.startswith(issuer(stack)), "at the provider"
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**/portal/{portal}/account")
    assert page.get_by_role("heading", name="Your account").is_visible()
    session = next(c for c in page.context.cookies() if c["name"] == "gatehouse_session")
    me = stack.send("GET", f"/portals/{portal}/me", token=session["value"]).expect(200).body
    assert (me["email"], me["provider"], me["state"]) == (email, "sso", "approved")
    screenshot(page, "account-after-sso")

