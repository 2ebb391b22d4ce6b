"""The stack helpers against the running local stack (skipped, with the reason, when it is not
up): what the page tests of issues 15-17 build on."""

from __future__ import annotations

import urllib.parse

import pytest

from harness.stack import STRONG_PASSWORD, unique_email, unique_username


def test_a_registered_developer_is_confirmed_from_its_mail_and_approved(stack):
    portal = stack.create_portal("Harness portal", admin_emails=[unique_email("admin")])
    dev = stack.registered_developer(portal, name="Ada Lovelace", username=unique_username("ada"))
    record = stack.developer(portal, dev.id)
    assert record["state"] == "approved" and record["email_verified"] is True, record
    mail = stack.mailbox.wait_for(dev.email, "Confirm your email")[-1]
    assert "token=" in mail.link() and mail.token()
    assert stack.login(portal, dev.login, STRONG_PASSWORD)


def test_a_developer_on_a_portal_requiring_confirmation_signs_in_once_confirmed_from_the_mailed_link(stack):
    # What every self-registration will need once confirmation is the default (v2).
    portal = stack.create_portal("Harness portal", require_verified_email=True)
    unconfirmed = stack.registered_developer(portal, verify=False)
    assert stack.developer(portal, unconfirmed.id)["email_verified"] is False
    assert stack.send("POST", f"/portals/{portal}/login", {"login": unconfirmed.email, "password": STRONG_PASSWORD}).status in (401, 403)
    confirmed = stack.registered_developer(portal)
    assert stack.developer(portal, confirmed.id)["email_verified"] is True
    assert stack.login(portal, confirmed.email)


def test_a_developer_auto_approved_after_its_confirmation_is_approved_once_whoever_comes_first(stack):
    portal = stack.create_portal("Harness portal", auto_approve=True, require_verified_email=True)
    raced = stack.registered_developer(portal)
    assert stack.developer(portal, raced.id)["state"] == "approved"
    waited = stack.registered_developer(portal, state=None)
    assert stack.wait_for_state(portal, waited.id, "approved")["email_verified"] is True
    assert stack.login(portal, raced.email) and stack.login(portal, waited.email)


def test_a_refused_sign_in_says_an_unconfirmed_address_may_be_the_reason(stack):
    portal = stack.create_portal("Harness portal")
    dev = stack.registered_developer(portal)
    with pytest.raises(AssertionError, match="not confirmed yet"):
        stack.login(portal, dev.email, "not the password at all")


def test_a_lifecycle_refusal_fails_the_helper_at_once(stack):
    portal = stack.create_portal("Harness portal")
    dev = stack.registered_developer(portal, state="rejected")
    assert stack.developer(portal, dev.id)["state"] == "rejected"
    with pytest.raises(AssertionError, match="409"):
        stack.reach_state(portal, dev.id, "revoked")


def test_an_invited_developer_can_sign_in_and_is_counted_by_state(stack):
    portal = stack.create_portal("Harness portal")
    dev = stack.invited_developer(portal, name="Grace Hopper")
    assert stack.login(portal, dev.email)
    listed = stack.developers(portal, state="approved")
    assert listed["total"] == 1 and listed["list"][0]["id"] == dev.id


def test_the_pages_are_addressed_on_the_apis_origin(stack, pages_base):
    assert stack.pages == pages_base == urllib.parse.urlsplit(stack.api)._replace(path="").geturl()
    assert stack.portal_page(stack.portal_id, "reset-password", token="t") == f"{stack.pages}/portal/{stack.portal_id}/reset-password?token=t"
    assert stack.console_page() == f"{stack.pages}/console/"


def test_the_browser_reaches_the_stack_on_the_pages_origin(stack, page):
    response = page.goto("/api/nowhere")
    assert response.status == 404 and response.headers["content-type"].startswith("application/problem+json")
    assert page.url == f"{stack.pages}/api/nowhere"
