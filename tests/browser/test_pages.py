"""The developer pages (issue 15) in headless Chromium against the local stack: every journey
end to end with the links read from the mailbox, each page checked with axe (no serious or
critical violation), for forbidden markup and for its size, and photographed; CSRF refused
without the token; registration and sign-in with JavaScript off.

Run:  gh-netns NAME bash infra/local/up.sh --detach
      gh-netns NAME python3 -m pytest tests/browser/test_pages.py -q
"""

from __future__ import annotations

import re

import pytest

from harness import site as hs
from harness.stack import STRONG_PASSWORD, http, unique_email, unique_username

NEW_PASSWORD = "tangerine lighthouse orbit mosaic"
HTML_BUDGET = 30 * 1024


@pytest.fixture(scope="module")
def portal(stack) -> str:
    """One branded portal for the whole file (each test uses its own developers)."""
    return stack.create_portal("Acme Developer Portal", settings={"brand_color": "#0f766e"})


@pytest.fixture
def check(axe, screenshot):
    """Checks the page as it is now (axe, forbidden markup, size) and photographs it."""
    def run(page, step: str, status: int | None = None) -> None:
        html = page.content()
        assert hs.forbidden_markup(html) == [], step
        assert len(html.encode()) < HTML_BUDGET, f"{step}: {len(html.encode())} bytes"
        axe(page)
        screenshot(page, step)
    return run


def go(page, url: str) -> int:
    return page.goto(url).status


def developer_id(stack, portal: str, email: str) -> str:
    found = [d for d in stack.developers(portal, q=email)["list"] if d.get("email") == email]
    assert found, email
    return found[0]["id"]


def sign_in(page, stack, portal: str, login: str, password: str = STRONG_PASSWORD) -> None:
    page.goto(stack.portal_page(portal, "login"))
    page.get_by_label("Email address or username").fill(login)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def notice(page) -> str:
    return page.locator("#gh-live").inner_text()


def errors(page) -> str:
    return page.locator(".gh-error-summary").inner_text()


def test_a_developer_registers_confirms_is_approved_signs_in_and_manages_applications_and_keys(stack, mailbox, portal, page, check):
    email = unique_email("journey")
    assert go(page, stack.portal_page(portal, "register")) == 200
    check(page, "register")
    page.get_by_label("Full name").fill("Ada Lovelace")
    page.get_by_label("Email address").fill("not-an-address")
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Create account").click()
    assert page.title().startswith("Error: ")
    assert page.get_by_label("Email address").get_attribute("aria-invalid") == "true"
    assert page.get_by_label("Full name").input_value() == "Ada Lovelace", "values entered are kept"
    assert page.get_by_label("Password").input_value() == "", "a password is never written back"
    check(page, "register-errors")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(STRONG_PASSWORD)
    page.get_by_role("button", name="Create account").click()
    assert page.url.endswith("/login")
    assert "confirm your email address" in notice(page)
    check(page, "login-after-registration")

    link = mailbox.link(email, "Confirm your email")
    assert link.startswith(stack.portal_page(portal, "verify-email?token="))
    page.goto(link)
    assert "token" not in page.url, "the token leaves the URL"
    assert page.get_by_role("heading", name="Your email address is confirmed").is_visible()
    check(page, "verify-email")

    sign_in(page, stack, portal, email)
    assert "pending approval" in errors(page), "told plainly after the right password"
    assert page.title().startswith("Error: ")
    check(page, "login-pending")
    stack.reach_state(portal, developer_id(stack, portal, email), "approved")

    sign_in(page, stack, portal, email)
    assert page.url.endswith("/account")
    cookie = next(c for c in page.context.cookies() if c["name"] == "gatehouse_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/"
    assert cookie["value"].startswith("ghs_"), "the session token the JSON login returns"
    assert stack.send("GET", f"/portals/{portal}/me", token=cookie["value"]).expect(200).body["email"] == email
    check(page, "account-empty")

    page.get_by_label("Application name").fill("Weather app")
    page.get_by_role("button", name="Create application").click()
    assert "Application created." in notice(page)
    page.get_by_role("button", name="Create API key for Weather app").click()
    key = page.locator("#new-key").inner_text()
    assert key.startswith("ghk_")
    assert page.get_by_role("button", name="Copy").is_visible(), "the copy button appears with the script"
    check(page, "account-new-key")
    page.goto(stack.portal_page(portal, "account"))
    assert key not in page.content(), "shown once"
    assert key[:12] in page.content(), "listed by its prefix"

    page.get_by_label("API product for Weather app").fill("orders")
    page.get_by_role("button", name="Subscribe Weather app", exact=True).click()
    assert "Subscribed." in notice(page)
    assert "orders" in page.locator("main").inner_text()
    page.get_by_label("API product for Weather app").fill("orders")
    page.get_by_role("button", name="Subscribe Weather app", exact=True).click()
    product = page.get_by_label("API product for Weather app")
    assert product.get_attribute("aria-invalid") == "true", "a second subscription is the field's error"
    assert "already subscribed" in page.locator(f"#{product.get_attribute('id')}-error").inner_text()
    check(page, "account-subscribe-error")
    page.get_by_label("API product for Weather app").fill("billing")
    page.get_by_role("button", name="Subscribe Weather app", exact=True).click()
    page.get_by_role("button", name="Unsubscribe Weather app from orders").click()
    assert "Unsubscribed." in notice(page)
    subscribed = stack.send("GET", f"/portals/{portal}/applications", token=cookie["value"]).expect(200).body
    assert [a["products"] for a in subscribed["list"] if a["name"] == "Weather app"] == [["billing"]]

    page.get_by_role("button", name="Delete", exact=True).click()
    dialog = page.get_by_role("dialog", name="Delete this API key?")
    assert dialog.is_visible()
    check(page, "account-delete-key-dialog")
    dialog.get_by_role("button", name="Delete").click()
    assert "API key deleted." in notice(page)
    page.get_by_role("button", name="Delete application").click()
    page.get_by_role("dialog", name="Delete this application?").get_by_role("button", name="Delete").click()
    assert "Application deleted." in notice(page)
    assert "Weather app" not in page.locator("main").inner_text()

    page.get_by_role("button", name="Sign out").click()
    assert page.url.endswith("/login") and "You are signed out." in notice(page)
    assert stack.send("GET", f"/portals/{portal}/me", token=cookie["value"]).status == 401, "the session ended"
    page.goto(stack.portal_page(portal, "account"))
    assert page.url.endswith("/login"), "the account needs a session"


def test_forgot_password_the_mailed_link_sets_a_new_password_once(stack, mailbox, portal, page, check):
    dev = stack.registered_developer(portal)
    page.goto(stack.portal_page(portal, "forgot-password"))
    check(page, "forgot-password")
    page.get_by_label("Email address").fill(dev.email)
    page.get_by_role("button", name="Send the link").click()
    assert "a link to set a new password is on its way" in notice(page)
    link = mailbox.link(dev.email, "Reset your password")
    page.goto(link)
    assert "token" not in page.url
    check(page, "reset-password")
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set password").click()
    assert "Your new password is set." in notice(page)
    sign_in(page, stack, portal, dev.email, NEW_PASSWORD)
    assert page.url.endswith("/account")
    page.goto(link)
    page.get_by_label("New password").fill("another password entirely new")
    page.get_by_role("button", name="Set password").click()
    assert page.get_by_role("heading", name="This link does not work").is_visible(), "the link works once"
    check(page, "reset-password-used")


def test_an_invited_developer_accepts_from_the_mail_and_signs_in(stack, mailbox, portal, page, check):
    email = unique_email("invitee")
    stack.invite(portal, email)
    page.goto(mailbox.link(email, "invited"))
    assert "token" not in page.url
    check(page, "invite")
    page.get_by_label("Full name").fill("Grace Hopper")
    page.get_by_label("Password").fill(STRONG_PASSWORD)
    page.get_by_role("button", name="Create account").click()
    assert "Your account is ready." in notice(page)
    sign_in(page, stack, portal, email)
    assert page.url.endswith("/account")
    assert "Grace Hopper" in page.locator("main").inner_text()


def test_a_one_time_password_must_be_changed_before_anything_else(stack, portal, page, check):
    username = unique_username("otp")
    body = {"username": username, "password": "temporary-password-123", "name": "Alan Turing"}
    stack.admin("POST", f"/portals/{portal}/developers/invites", body).expect(201)
    sign_in(page, stack, portal, username, "temporary-password-123")
    assert page.url.endswith("/change-password")
    assert page.get_by_role("heading", name="Choose your password").is_visible()
    check(page, "change-password-forced")
    page.goto(stack.portal_page(portal, "account"))
    assert page.url.endswith("/change-password"), "nothing else before the change"
    page.get_by_label("Current password").fill("temporary-password-123")
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    assert page.url.endswith("/account") and "Your password is changed." in notice(page)


def test_rejected_and_revoked_accounts_are_told_so_only_after_the_right_password(stack, portal, page, check):
    for state in ("rejected", "revoked"):
        dev = stack.registered_developer(portal, state="pending" if state == "rejected" else "approved")
        stack.set_state(portal, dev.id, state)
        sign_in(page, stack, portal, dev.email, "a wrong password entirely")
        assert "Wrong email, username or password" in errors(page)
        assert state not in errors(page)
        sign_in(page, stack, portal, dev.email)
        assert f"this account is {state}" in errors(page).lower()
        check(page, f"login-{state}")
    sign_in(page, stack, portal, unique_email("nobody"))
    assert "Wrong email, username or password" in errors(page), "an unknown address reads as a wrong password"


def test_a_form_posted_without_its_csrf_token_or_from_another_site_changes_nothing(stack, portal, page, check):
    dev = stack.registered_developer(portal)
    page.goto(stack.portal_page(portal, "login"))
    form = {"login": dev.email, "password": STRONG_PASSWORD}
    r = page.request.post(stack.portal_page(portal, "login"), form=form, max_redirects=0)
    assert r.status == 403 and "This form expired" in r.text()
    assert not [c for c in page.context.cookies() if c["name"] == "gatehouse_session"]
    token = page.locator("input[name=csrf_token]").first.input_value()
    r = page.request.post(stack.portal_page(portal, "login"), form={**form, "csrf_token": token}, max_redirects=0,
                          headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
    assert r.status == 403, "the right token from another site"
    sign_in(page, stack, portal, dev.email)
    assert page.url.endswith("/account")
    r = page.request.post(stack.portal_page(portal, "account/applications"), form={"name": "Forged"}, max_redirects=0)
    assert r.status == 403 and "This form expired" in r.text()
    page.goto(stack.portal_page(portal, "account"))
    assert "Forged" not in page.content(), "nothing was created"


def test_without_javascript_a_developer_registers_signs_in_and_creates_a_key(stack, mailbox, portal, page_nojs, check):
    page = page_nojs
    email = unique_email("nojs")
    page.goto(stack.portal_page(portal, "register"))
    page.get_by_label("Full name").fill("Edsger Dijkstra")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(STRONG_PASSWORD)
    page.get_by_role("button", name="Create account").click()
    assert page.url.endswith("/login")
    page.goto(mailbox.link(email, "Confirm your email"))
    assert page.get_by_role("heading", name="Your email address is confirmed").is_visible()
    stack.reach_state(portal, developer_id(stack, portal, email), "approved")
    sign_in(page, stack, portal, email)
    assert page.url.endswith("/account")
    page.get_by_label("Application name").fill("Plain app")
    page.get_by_role("button", name="Create application").click()
    page.get_by_role("button", name="Create API key for Plain app").click()
    assert page.locator("#new-key").inner_text().startswith("ghk_")
    assert not page.get_by_role("button", name="Copy").is_visible(), "no copy button without the script"
    page.goto(stack.portal_page(portal, "account"))
    page.get_by_role("button", name="Delete application").click()
    assert page.get_by_role("heading", name="Delete this application?").is_visible(), "the confirmation page"
    check(page, "confirm-delete-app-nojs")
    page.get_by_role("button", name="Delete").click()
    assert "Application deleted." in notice(page)


def test_pages_and_assets_carry_their_headers_and_the_brand_stylesheet(stack, portal):
    r = http("GET", stack.portal_page(portal, "login"))
    assert r.status == 200
    headers = {k.lower(): v for k, v in r.headers.items()}
    for name, value in hs.page_headers().items():
        assert headers[name.lower()] == value, name
    assert '/static/brand/0f766e.css' in r.text.replace("&#x2f;", "/")
    css = http("GET", f"{stack.pages}/static/brand/0f766e.css")
    assert css.status == 200 and css.text == hs.brand_css("#0f766e")
    asset = re.search(r'href="([^"]*gatehouse\.[0-9a-f]{16}\.css)"', r.text.replace("&#x2f;", "/")).group(1)
    assert asset == hs.asset_url("gatehouse.css"), "the same name as the reference implementation"
    a = http("GET", f"{stack.pages}{asset}")
    assert a.status == 200 and {k.lower(): v for k, v in a.headers.items()}["cache-control"] == hs.IMMUTABLE
    assert http("GET", f"{stack.pages}/static/gatehouse.0000000000000000.css").status == 404
    assert http("GET", stack.portal_page("00000000-0000-0000-0000-000000000000", "login")).status == 404
