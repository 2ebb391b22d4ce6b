"""The admin console (issue 16) in headless Chromium against the local stack: sign-in with an
admin token, the four state tabs driven by role and name (Accept / Reject; Revoke / Delete;
Re-approve / Delete; Approve / Delete) with the counts compared with the API's totals after
each step, bulk actions, a conflict with another admin, search, a developer's detail, the
Invite developers dialog (the mail arrives), settings seen through the API, a portal-scoped
token kept to its portal, CSRF and expired sessions refused. Every screen is checked with axe
(no serious or critical violation), for forbidden markup and size, and photographed.

Run:  gh-netns NAME bash infra/local/up.sh --detach
      gh-netns NAME python3 -m pytest tests/browser/test_console.py -q
"""

from __future__ import annotations

import os
import re
import subprocess

import pytest
from playwright.sync_api import expect

from harness import site as hs
from harness.stack import REPO, read_env, unique_email, unique_username

HTML_BUDGET = 30 * 1024
STATES = [("Requested access", "pending"), ("Approved", "approved"), ("Revoked", "revoked"), ("Rejected", "rejected")]


@pytest.fixture
def check(axe, screenshot):
    """Checks the page as it is now (axe, forbidden markup, size) and photographs it."""
    def run(page, step: str) -> None:
        # Playwright's screenshots leave an empty style="" on the inputs (its caret hiding) in the
        # live DOM; the served pages have none, so only a non-empty one is the page's own.
        html = re.sub(r'\sstyle=""', "", page.content())
        assert hs.forbidden_markup(html) == [], step
        assert len(html.encode()) < HTML_BUDGET, f"{step}: {len(html.encode())} bytes"
        axe(page)
        screenshot(page, step)
    return run


@pytest.fixture
def portal(stack) -> str:
    """A fresh portal per test: its counts are the test's own."""
    return stack.create_portal("Acme Console Portal")


def sign_in(page, stack, token: str | None = None) -> None:
    page.goto(stack.console_page("sign-in"))
    page.get_by_label("Admin token").fill(token or stack.admin_token)
    page.get_by_role("button", name="Sign in").click()


def open_portal(page, stack, portal: str, tab: str = "requested", **query: str) -> int:
    return page.goto(stack.console_page(f"portals/{portal}", tab=tab, **query)).status


def pending(stack, portal: str, name: str) -> str:
    """A self-registered developer waiting for access; returns its email."""
    email = unique_email(name.split()[0].lower())
    stack.registered_developer(portal, email, name=name, verify=False, state=None)
    return email


def row(page, text: str):
    return page.get_by_role("row").filter(has_text=text)


def assert_counts_match_the_api(page, stack, portal: str) -> None:
    for label, state in STATES:
        total = stack.developers(portal, state=state, limit="1")["total"]
        expect(page.get_by_role("tab", name=f"{label} {total}", exact=True)).to_be_visible()


def state_of(stack, portal: str, email: str) -> str | None:
    found = [d for d in stack.developers(portal, q=email)["list"] if d.get("email") == email]
    return found[0]["state"] if found else None


def notice(page) -> str:
    return page.locator("#gh-live").inner_text()


def ops(*args: str) -> str:
    env = {**os.environ, **read_env()}
    out = subprocess.run([str(REPO / "target" / "debug" / "gatehouse-ops"), *args], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


def test_an_admin_signs_in_with_a_token_and_gets_a_console_session_cookie_apart_from_the_token(stack, page, check):
    assert page.goto(stack.console_page("sign-in")).status == 200
    check(page, "sign-in")
    page.get_by_label("Admin token").fill("gha_not-a-token")
    page.get_by_role("button", name="Sign in").click()
    assert page.title().startswith("Error: ")
    assert page.get_by_label("Admin token").input_value() == "", "a token is never written back"
    check(page, "sign-in-error")
    page.get_by_label("Admin token").fill(stack.admin_token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Portals", level=1)).to_be_visible()
    # A global token lists every portal (the portal index, oldest first): the demo portal leads.
    expect(page.get_by_role("heading", name="All portals")).to_be_visible()
    expect(page.locator(f'a[href="/console/portals/{stack.portal_id}"]')).to_be_visible()
    check(page, "portals")
    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies["gh_console"]
    assert session["value"].startswith("ghc_") and stack.admin_token not in session["value"]
    assert session["httpOnly"] and session["sameSite"] == "Lax" and session["path"] == "/console/"
    assert not session["secure"], "plain http on loopback only"
    assert "gatehouse_session" not in cookies
    assert stack.admin_token not in page.url and stack.admin_token not in page.content()
    # The picker opens a portal by id.
    page.get_by_label("Portal ID").fill(stack.portal_id)
    page.get_by_role("button", name="Open portal").click()
    expect(page.get_by_role("tab", name=re.compile(r"^Requested access \d+$"))).to_be_visible()
    # Signing out ends the session: the old cookie no longer opens anything.
    page.get_by_role("button", name="Sign out").click()
    assert "You are signed out" in notice(page)
    page.context.add_cookies([{"name": "gh_console", "value": session["value"], "url": stack.pages + "/console/"}])
    page.goto(stack.console_page("portals"))
    assert page.url.endswith("/console/sign-in")


def test_developers_are_accepted_rejected_revoked_reapproved_approved_and_deleted_by_role_and_name_with_counts_from_the_api(
        stack, portal, page, check):
    ada, bob = pending(stack, portal, "Ada Lovelace"), pending(stack, portal, "Bob Babbage")
    sign_in(page, stack)
    assert open_portal(page, stack, portal) == 200
    expect(page.get_by_role("tab", name="Requested access 2", exact=True)).to_have_attribute("aria-selected", "true")
    assert_counts_match_the_api(page, stack, portal)
    check(page, "requested")

    row(page, ada).get_by_role("button", name="Accept").click()
    assert "approved" in notice(page)
    assert state_of(stack, portal, ada) == "approved"
    assert_counts_match_the_api(page, stack, portal)

    row(page, bob).get_by_role("button", name="Reject").click()
    dialog = page.get_by_role("dialog", name="Reject this developer?")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Bob Babbage")
    check(page, "reject-dialog")
    dialog.get_by_role("button", name="Reject").click()
    assert state_of(stack, portal, bob) == "rejected"
    assert_counts_match_the_api(page, stack, portal)

    page.get_by_role("tab", name="Approved 1", exact=True).click()
    check(page, "approved")
    row(page, ada).get_by_role("button", name="Revoke").click()
    page.get_by_role("dialog", name="Revoke this developer?").get_by_role("button", name="Revoke").click()
    assert state_of(stack, portal, ada) == "revoked"
    assert_counts_match_the_api(page, stack, portal)

    page.get_by_role("tab", name="Revoked 1", exact=True).click()
    check(page, "revoked")
    row(page, ada).get_by_role("button", name="Re-approve").click()
    assert state_of(stack, portal, ada) == "approved"
    assert_counts_match_the_api(page, stack, portal)

    page.get_by_role("tab", name="Rejected 1", exact=True).click()
    check(page, "rejected")
    row(page, bob).get_by_role("button", name="Approve").click()
    assert state_of(stack, portal, bob) == "approved"
    assert_counts_match_the_api(page, stack, portal)

    page.get_by_role("tab", name="Approved 2", exact=True).click()
    row(page, ada).get_by_role("button", name="Delete").click()
    dialog = page.get_by_role("dialog", name="Delete this developer?")
    check(page, "delete-dialog")
    dialog.get_by_role("button", name="Delete").click()
    assert "deleted" in notice(page)
    assert state_of(stack, portal, ada) is None
    expect(page.get_by_role("tab", name="Approved 1", exact=True)).to_be_visible()
    assert_counts_match_the_api(page, stack, portal)


def test_a_cancelled_confirmation_changes_nothing(stack, portal, page):
    email = pending(stack, portal, "Cleo Cancel")
    sign_in(page, stack)
    open_portal(page, stack, portal)
    row(page, email).get_by_role("button", name="Reject").click()
    dialog = page.get_by_role("dialog", name="Reject this developer?")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert state_of(stack, portal, email) == "pending"


def test_without_javascript_a_reject_is_confirmed_on_its_own_page(stack, portal, page_nojs, check):
    page = page_nojs
    email = pending(stack, portal, "Nora Noscript")
    sign_in(page, stack)
    open_portal(page, stack, portal)
    row(page, email).get_by_role("button", name="Reject").click()
    expect(page.get_by_role("heading", name="Reject this developer?", level=1)).to_be_visible()
    check(page, "reject-confirm-page")
    page.get_by_role("button", name="Reject").click()
    assert state_of(stack, portal, email) == "rejected"
    assert_counts_match_the_api(page, stack, portal)


def assert_a_result_page_is_a_get_only_this_session_reads(page, stack, portal: str, heading: str) -> None:
    """The POST answered 303 to a GET page of its outcome: a reload shows it again without
    sending the form, and another admin's session (or none) does not see it."""
    assert re.search(rf"/console/portals/{portal}/results/[0-9a-f-]{{36}}$", page.url), page.url
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    response = page.reload()
    assert response.status == 200 and response.request.method == "GET"
    expect(page.get_by_role("heading", name=heading)).to_be_visible()
    assert posts == [], "the reload sent nothing"
    other = page.context.browser.new_page()
    try:
        sign_in(other, stack)
        assert other.goto(page.url).status == 404
        expect(other.get_by_role("heading", name="This outcome is no longer here")).to_be_visible()
    finally:
        other.close()


def assert_a_secret_page_shows_once(page, portal: str, secret: str) -> None:
    """A secret's page is the GET a POST redirected to; its first read deleted it, so a reload
    sends nothing and shows only that it is gone."""
    assert re.search(rf"/console/portals/{portal}/results/[0-9a-f-]{{36}}$", page.url), page.url
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    response = page.reload()
    assert response.status == 404 and response.request.method == "GET"
    assert secret not in page.content(), "the secret is not shown again"
    expect(page.get_by_role("heading", name="This outcome is no longer here")).to_be_visible()
    assert posts == [], "the reload sent nothing"


def test_one_bulk_request_accepts_the_selected_developers_and_reports_each_outcome(stack, portal, page, check):
    emails = [pending(stack, portal, f"Bulk Person{i}") for i in range(3)]
    sign_in(page, stack)
    open_portal(page, stack, portal)
    page.get_by_role("checkbox", name="Select Bulk Person0").check()
    page.get_by_role("checkbox", name="Select Bulk Person2").check()
    page.get_by_role("button", name="Accept selected").click()
    expect(page.get_by_role("heading", name="Approved 2 of 2", level=1)).to_be_visible()
    assert page.get_by_role("row").filter(has_text="Bulk Person0").filter(has_text="Approved").count() == 1
    check(page, "bulk-result")
    assert [state_of(stack, portal, e) for e in emails] == ["approved", "pending", "approved"]
    assert_a_result_page_is_a_get_only_this_session_reads(page, stack, portal, "Approved 2 of 2")
    assert [state_of(stack, portal, e) for e in emails] == ["approved", "pending", "approved"], "the reload decided nothing"
    page.get_by_role("link", name="Back to Requested access").click()
    assert_counts_match_the_api(page, stack, portal)


def test_a_decision_another_admin_made_first_shows_as_a_conflict_not_an_overwrite(stack, portal, page, check):
    email = pending(stack, portal, "Race Condition")
    sign_in(page, stack)
    open_portal(page, stack, portal)
    dev = [d for d in stack.developers(portal, q=email)["list"]][0]
    stack.set_state(portal, dev["id"], "rejected")  # the other admin, through the API
    row(page, email).get_by_role("button", name="Accept").click()
    summary = page.locator(".gh-error-summary")
    expect(summary).to_contain_text("Another admin got there first")
    assert page.title().startswith("Error: ")
    check(page, "conflict")
    assert state_of(stack, portal, email) == "rejected", "the other admin's decision stands"
    assert_counts_match_the_api(page, stack, portal)


def test_search_finds_developers_by_email_username_or_name_prefix(stack, portal, page, check):
    pending(stack, portal, "Grace Hopper")
    pending(stack, portal, "Alan Turing")
    sign_in(page, stack)
    open_portal(page, stack, portal)
    page.get_by_role("searchbox", name="Search developers").fill("gra")
    page.get_by_role("button", name="Search").click()
    expect(row(page, "Grace Hopper")).to_have_count(1)
    expect(row(page, "Alan Turing")).to_have_count(0)
    assert "1 shown of 1 matching" in page.content()
    check(page, "search")


def test_the_list_pages_through_with_a_cursor_twenty_rows_at_a_time(stack, portal, page):
    for i in range(21):
        pending(stack, portal, f"Pager Person{i:02d}")
    sign_in(page, stack)
    open_portal(page, stack, portal)
    expect(page.get_by_role("tab", name="Requested access 21", exact=True)).to_be_visible()
    assert page.get_by_role("checkbox").count() == 20
    page.get_by_role("link", name="Next page").click()
    assert page.get_by_role("checkbox").count() == 1
    page.get_by_role("link", name="First page").click()
    assert page.get_by_role("checkbox").count() == 20


def test_a_developers_detail_shows_profile_teams_applications_and_history(stack, portal, page, check):
    email = pending(stack, portal, "Detail Person")
    team = stack.admin("POST", f"/portals/{portal}/teams", {"name": "Payments"}).expect(201).body
    sign_in(page, stack)
    open_portal(page, stack, portal)
    row(page, email).get_by_role("button", name="Accept").click()
    page.get_by_role("tab", name="Approved 1", exact=True).click()
    page.get_by_role("link", name="Detail Person").click()
    expect(page.get_by_role("heading", name="Detail Person", level=1)).to_be_visible()
    expect(page.get_by_role("definition").filter(has_text=email)).to_have_count(1)  # the profile (history names it too)
    page.get_by_label("Add to team").select_option(label="Payments")
    page.get_by_role("button", name="Add to team").click()
    assert "added to the team" in notice(page)
    dev = [d for d in stack.developers(portal, q=email)["list"]][0]
    assert team["id"] in stack.developer(portal, dev["id"])["teams"]
    history = page.get_by_role("table").filter(has_text="developer.approved")
    expect(history).to_have_count(1)
    check(page, "developer")
    row(page, "Payments").get_by_role("button", name="Remove").click()
    assert "removed from the team" in notice(page)


def test_an_invite_sent_through_the_dialog_arrives_in_the_mailbox_with_an_outcome_per_address(stack, portal, mailbox, page, check):
    first, second = unique_email("invitee"), unique_email("invitee")
    sign_in(page, stack)
    open_portal(page, stack, portal, tab="invites")
    check(page, "invites")
    page.get_by_role("button", name="Invite developers").click()
    dialog = page.get_by_role("dialog", name="Invite developers")
    expect(dialog).to_be_visible()
    check(page, "invite-dialog")
    dialog.get_by_label("Email addresses").fill(f"{first}, {second}\n{first}")
    dialog.get_by_role("button", name="Send invites").click()
    expect(page.get_by_role("heading", name="Invited 2 of 3")).to_be_visible()
    expect(page.get_by_role("table", name="Outcome per address")).to_contain_text("Not sent: listed twice")
    check(page, "invite-outcomes")
    assert_a_result_page_is_a_get_only_this_session_reads(page, stack, portal, "Invited 2 of 3")
    expect(page.get_by_role("table", name="Outcome per address")).to_contain_text("Not sent: listed twice")
    assert mailbox.wait_for(first, "invited")
    assert mailbox.wait_for(second, "invited")
    page.goto(stack.console_page(f"portals/{portal}", tab="invites"))
    row(page, second).get_by_role("button", name="Withdraw").click()
    assert "withdrawn" in notice(page)
    row(page, first).get_by_role("button", name="Re-send").click()
    assert "sent again" in notice(page)
    assert mailbox.wait_for(first, "invited", n=2)


def test_a_username_with_a_generated_one_time_password_is_created_through_the_dialog_and_shown_once(stack, portal, page):
    username = unique_username("otp")
    sign_in(page, stack)
    open_portal(page, stack, portal, tab="invites")
    page.get_by_role("button", name="Invite developers").click()
    dialog = page.get_by_role("dialog", name="Invite developers")
    dialog.get_by_label("Username").fill(username)
    dialog.get_by_label("Full name").fill("Otto Password")
    assert dialog.get_by_label("One-time password").count() == 0, "the console generates the password"
    dialog.get_by_role("button", name="Create developer").click()
    expect(page.get_by_role("heading", name=f"Created {username}")).to_be_visible()
    password = page.locator("#webhook-secret").inner_text().strip()
    assert len(password) == 29 and password.count("-") == 5, password
    assert stack.developers(portal, q=username)["list"][0]["state"] == "approved"
    page.reload()
    expect(page.get_by_role("heading", name=f"Created {username}")).to_have_count(0)
    assert password not in page.content(), "the password is shown only once"
    login = stack.send("POST", f"/portals/{portal}/login", {"login": username, "password": password}).expect(200)
    assert login.body["developer"]["must_change_password"] is True, login.body


def test_a_settings_change_is_visible_through_the_api_and_a_bad_value_is_named_at_its_field(stack, portal, page, check):
    sign_in(page, stack)
    open_portal(page, stack, portal, tab="settings")
    check(page, "settings")
    page.get_by_label("Approve every registration automatically").check()
    page.get_by_label("Trusted email domains").fill("acme.example\nbeta.example")
    page.get_by_label("Brand colour").fill("teal")
    page.get_by_role("button", name="Save settings").click()
    assert page.title().startswith("Error: ")
    assert page.get_by_label("Brand colour").get_attribute("aria-invalid") == "true"
    assert page.get_by_label("Trusted email domains").input_value() == "acme.example\nbeta.example", "values entered are kept"
    check(page, "settings-error")
    assert stack.admin("GET", f"/portals/{portal}").expect(200).body["settings"]["auto_approve"] is False, "nothing half-written"
    page.get_by_label("Brand colour").fill("#0f766e")
    page.get_by_label("Sign-in attempts per hour from one client").fill("0")
    page.get_by_role("button", name="Save settings").click()
    limit = page.get_by_label("Sign-in attempts per hour from one client")
    assert limit.get_attribute("aria-invalid") == "true", "the use case's range is named at the rate limit's field"
    limit.fill("5")
    page.get_by_role("button", name="Save settings").click()
    assert "Settings saved" in notice(page)
    settings = stack.admin("GET", f"/portals/{portal}").expect(200).body["settings"]
    assert settings["auto_approve"] is True
    assert settings["trusted_domains"] == ["acme.example", "beta.example"]
    assert settings["brand_color"] == "#0f766e"
    assert settings["rate_limits"] == {"login_per_client": 5}, "the other limits stay the deployment's"
    assert page.get_by_label("Sign-in attempts per hour from one client").input_value() == "5"
    page.get_by_label("Sign-in attempts per hour from one client").fill("")
    page.get_by_role("button", name="Save settings").click()
    assert "Settings saved" in notice(page)
    assert stack.admin("GET", f"/portals/{portal}").expect(200).body["settings"].get("rate_limits", {}) == {}, "emptied: back to the deployment's"


def test_the_teams_audit_log_and_webhooks_tabs_show_the_portals_records(stack, portal, page, check):
    pending(stack, portal, "Audit Person")
    sign_in(page, stack)
    open_portal(page, stack, portal, tab="teams")
    page.get_by_label("Team name").fill("Platform")
    page.get_by_role("button", name="Create team").click()
    assert "Team created" in notice(page)
    expect(row(page, "Platform")).to_have_count(1)
    check(page, "teams")
    page.get_by_role("tab", name="Audit log").click()
    expect(page.get_by_role("table")).to_contain_text("developer.registered")
    check(page, "audit")
    page.get_by_role("tab", name="Webhooks").click()
    check(page, "webhooks")


def test_a_portal_scoped_admin_sees_only_its_portal(stack, portal, page, check):
    other = stack.create_portal("Someone else's portal")
    token = ops("mint-admin-token", "--name", "console-scoped", "--portal", portal)
    sign_in(page, stack, token)
    expect(page.get_by_role("tab", name=re.compile(r"^Requested access \d+$"))).to_be_visible()
    assert f"/console/portals/{portal}" in page.url
    assert open_portal(page, stack, other) == 404
    check(page, "other-portal-404")
    assert page.goto(stack.console_page("portals")).status == 200
    expect(page.get_by_role("link", name="Acme Console Portal")).to_be_visible()
    expect(page.get_by_role("heading", name="Your portal")).to_be_visible()
    expect(page.get_by_role("link", name="Someone else's portal")).to_have_count(0)


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(stack, portal, page):
    email = pending(stack, portal, "Csrf Person")
    sign_in(page, stack)
    open_portal(page, stack, portal)
    dev = stack.developers(portal, q=email)["list"][0]
    r = page.request.post(stack.console_page(f"portals/{portal}/developers/decide"), form={"accept": dev["id"], "csrf_token": "forged"})
    assert r.status == 403
    r = page.request.post(stack.console_page(f"portals/{portal}/developers/decide"), form={"accept": dev["id"]})
    assert r.status == 403
    assert state_of(stack, portal, email) == "pending"
    # The sign-in form too: without its pre-session cookie's token, no session.
    fresh = page.context.browser.new_context()
    try:
        r = fresh.request.post(stack.console_page("sign-in"), form={"token": stack.admin_token}, max_redirects=0)
        assert r.status == 403
        assert "gh_console" not in r.headers.get("set-cookie", "")
    finally:
        fresh.close()


def test_an_expired_console_session_is_refused_and_sends_the_admin_to_sign_in(stack, portal, page, check):
    sign_in(page, stack)
    assert open_portal(page, stack, portal) == 200
    page.context.set_extra_http_headers({"x-gatehouse-clock-offset": "3601"})
    open_portal(page, stack, portal)
    assert page.url.endswith("/console/sign-in")
    assert "session ended" in notice(page)
    check(page, "session-ended")
    page.context.set_extra_http_headers({})
    open_portal(page, stack, portal)
    assert page.url.endswith("/console/sign-in"), "the cookie was cleared"


def test_a_webhook_endpoint_is_created_with_its_secret_shown_once_tested_rotated_disabled_replayed_and_deleted(stack, portal, page, check):
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "webhooks"))
    from receiver import Receiver
    receiver = Receiver()
    try:
        sign_in(page, stack)
        open_portal(page, stack, portal, tab="webhooks")
        page.get_by_label("URL").fill("https://10.0.0.1/hook")
        page.get_by_role("button", name="Create webhook endpoint").click()
        assert page.get_by_label("URL").get_attribute("aria-invalid") == "true", "a private address is refused at its field"
        check(page, "webhook-create-error")
        page.get_by_label("URL").fill(receiver.url)
        page.get_by_label("Event types").fill("developer.*, webhook.test")
        page.get_by_label("Description").fill("Console receiver")
        page.get_by_role("button", name="Create webhook endpoint").click()
        secret = page.locator("#webhook-secret").inner_text()
        assert secret.startswith("whsec_") and secret not in page.url
        check(page, "webhook-secret")
        assert_a_secret_page_shows_once(page, portal, secret)
        assert len(stack.admin("GET", f"/portals/{portal}/webhooks").expect(200).body["list"]) == 1, "the reload created nothing"
        open_portal(page, stack, portal, tab="webhooks")
        assert secret not in page.content(), "the secret is not shown again"
        page.get_by_role("link", name=receiver.url).click()
        check(page, "webhook-detail")
        page.get_by_role("button", name="Send test event").click()
        assert "webhook.test event was sent" in notice(page)
        for _ in range(30):
            page.reload()
            if page.get_by_role("table").filter(has_text="webhook.test").count():
                break
            page.wait_for_timeout(1000)
        expect(page.get_by_role("table")).to_contain_text("webhook.test")
        page.get_by_role("button", name="Rotate secret").click()
        rotated = page.locator("#webhook-secret").inner_text()
        assert rotated.startswith("whsec_") and rotated != secret
        expect(page.get_by_text("24 hours")).to_be_visible()
        check(page, "webhook-rotated")
        endpoint = page.get_by_role("link", name="Go to the endpoint").get_attribute("href")
        assert_a_secret_page_shows_once(page, portal, rotated)
        page.goto(endpoint)
        detail = page.url
        page.get_by_label("Since").fill("2026-01-01T00:00")
        page.get_by_label("Until").fill("2030-01-01T00:00")
        page.get_by_role("button", name="Replay").click()
        check(page, "webhook-replay")
        page.goto(detail)
        page.get_by_role("button", name="Disable").click()
        assert "disabled" in notice(page)
        expect(page.get_by_role("button", name="Enable")).to_be_visible()
        # CSRF: the new forms refuse a post without the session's token.
        wid = detail.rstrip("/").split("/")[-1]
        for form in ({"enable": wid}, {"delete": wid, "csrf_token": "forged"}):
            assert page.request.post(detail, form=form).status == 403
        assert page.request.post(stack.console_page(f"portals/{portal}/webhooks"), form={"url": receiver.url, "events": "*"}).status == 403
        page.get_by_role("button", name="Delete").click()
        dialog = page.get_by_role("dialog", name="Delete this webhook endpoint?")
        check(page, "webhook-delete-confirm")
        dialog.get_by_role("button", name="Delete endpoint").click()
        assert "deleted" in notice(page)
        assert stack.admin("GET", f"/portals/{portal}/webhooks").expect(200).body["list"] == []
    finally:
        receiver.close()


def check_editor(page, axe, screenshot, step: str) -> None:
    """The template editor checked as `check` does, axe leaving out the preview frames (their
    documents run no script, so axe cannot enter them; the frame's own title is checked)."""
    html = re.sub(r'\sstyle=""', "", page.content())
    # The one frame the pages allow (README.md, "What a page must not contain"): sandboxed.
    assert [m for m in hs.forbidden_markup(html) if m != "a frame"] == [], step
    assert re.findall(r"<iframe[^>]*>", html) == [re.search(r'<iframe[^>]*name="template-preview"[^>]*>', html)[0]], "one frame"
    frame = page.locator('iframe[name="template-preview"]')
    assert frame.get_attribute("title") == "Preview of the email" and frame.get_attribute("sandbox") == "allow-same-origin"
    axe(page, context={"exclude": [["iframe"]]})
    screenshot(page, step)


def test_an_email_template_previews_live_with_sample_data_names_a_bad_part_and_saves_through_the_api(stack, portal, page, check, axe, screenshot):
    sign_in(page, stack)
    open_portal(page, stack, portal, tab="settings")
    page.get_by_role("link", name="Email templates").click()
    expect(page.get_by_role("heading", name="Email templates", level=1)).to_be_visible()
    check(page, "templates")
    page.get_by_role("link", name="Access approved").click()
    preview = page.frame_locator('iframe[name="template-preview"]')
    expect(preview.locator("#preview-subject")).not_to_be_empty()
    default_subject = preview.locator("#preview-subject").inner_text()
    check_editor(page, axe, screenshot, "template-editor")
    page.get_by_label("Subject").fill("Welcome to {{ portal_name }}, {{ developer_name }}")
    # No click: the page re-posts the preview a moment after the edit.
    expect(preview.locator("#preview-subject")).to_have_text("Welcome to Acme Console Portal, Ada Lovelace")
    assert page.url.endswith("/templates/approved"), "the preview never leaves the editor"
    page.get_by_label("Subject").fill("Hi {{ developer_nmae }}")
    expect(preview.get_by_role("heading", name="This template cannot be sent")).to_be_visible()
    check_editor(page, axe, screenshot, "template-preview-error")
    page.get_by_role("button", name="Save template").click()
    assert page.title().startswith("Error: ")
    assert page.get_by_label("Subject").get_attribute("aria-invalid") == "true", "the settings PATCH's error at its field"
    assert page.get_by_label("Subject").input_value() == "Hi {{ developer_nmae }}", "what was typed is kept"
    assert "approved" not in stack.admin("GET", f"/portals/{portal}").expect(200).body["settings"].get("email_templates", {}), "nothing saved"
    page.get_by_label("Subject").fill("Welcome to {{ portal_name }}")
    page.get_by_role("button", name="Save template").click()
    assert "saved" in notice(page)
    saved = stack.admin("GET", f"/portals/{portal}").expect(200).body["settings"]["email_templates"]["approved"]
    assert saved["subject"] == "Welcome to {{ portal_name }}"
    expect(preview.locator("#preview-subject")).to_have_text("Welcome to Acme Console Portal")
    page.get_by_role("button", name="Use the default").click()
    assert "default" in notice(page)
    assert "approved" not in stack.admin("GET", f"/portals/{portal}").expect(200).body["settings"].get("email_templates", {})
    expect(preview.locator("#preview-subject")).to_have_text(default_subject)


def test_without_javascript_the_preview_button_renders_the_draft_into_the_frame(stack, portal, page_nojs, axe, screenshot):
    page = page_nojs
    sign_in(page, stack)
    page.goto(stack.console_page(f"portals/{portal}/templates/invite"))
    preview = page.frame_locator('iframe[name="template-preview"]')
    page.get_by_label("Subject").fill("Join {{ portal_name }} now")
    page.get_by_role("button", name="Preview").click()
    expect(preview.locator("#preview-subject")).to_have_text("Join Acme Console Portal now")
    expect(preview.locator("#preview-text")).to_contain_text("invite?token=")
    assert page.url.endswith("/templates/invite")
    check_editor(page, axe, screenshot, "template-preview-nojs")
