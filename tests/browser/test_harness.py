"""The harness proves itself without any Gatehouse page: a local http.server on a free port
(inside the caller's network namespace), Debian's Chromium through Playwright, axe-core from
npm on a good and a bad page, screenshots, JavaScript really off, the strict CSP really
enforced, and the mailbox reader and stack detection against stand-ins."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from harness import browser as hb
from harness.site import Request, Response, asset_url, content_security_policy, html_page
from harness.stack import Mail, Mailbox, Stack, StackDown

GOOD = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>A good page</title></head>
<body><header><p>Harness</p></header>
<main><h1>Sign in</h1>
<form method="post" action="/"><label for="email">Email address</label><input id="email" name="email" type="email">
<button type="submit">Continue</button></form>
<img src="{asset_url('favicon.svg')}" alt="Gatehouse"></main></body></html>"""

BAD = """<!doctype html>
<html><head><meta charset="utf-8"><title>A bad page</title></head>
<body><main><h1>Sign in</h1>
<input name="email" type="email"><img src="/favicon.ico">
<p>Nothing else.</p></main></body></html>"""

SCRIPTED = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Scripted</title><script src="/app.js" defer></script></head>
<body><main><h1>Scripts</h1><p id="status">The script has not run.</p></main></body></html>"""

APP_JS = b'document.getElementById("status").textContent = "The script ran.";'


def test_chromium_from_debian_opens_a_page_served_by_a_local_server(browser, page, local_site):
    site = local_site({"/": GOOD})
    page.goto(site.url("/"))
    assert page.title() == "A good page"
    assert page.get_by_role("button", name="Continue").is_visible()
    installed = subprocess.run([hb.CHROMIUM, "--version"], capture_output=True, text=True).stdout
    assert browser.version.split(".")[0] in installed, (browser.version, installed)


def test_axe_passes_a_page_without_serious_violations(page, local_site, axe):
    page.goto(local_site({"/": GOOD}).url("/"))
    lesser = axe(page)
    assert all(v.impact in ("minor", "moderate") for v in lesser)


def test_axe_fails_a_bad_page_and_names_each_violation(page, local_site):
    site = local_site({"/": BAD})
    page.goto(site.url("/"))
    with pytest.raises(hb.AxeViolations) as failure:
        hb.assert_accessible(page)
    report = str(failure.value)
    ids = {v.id for v in failure.value.violations}
    assert {"image-alt", "label", "html-has-lang"} <= ids, report
    assert "[critical] image-alt" in report and "at img" in report and site.url("/") in report, report


def test_axe_runs_under_the_strict_csp_and_with_javascript_off(page_nojs, local_site, axe):
    page_nojs.goto(local_site({"/": html_page(BAD)}).url("/"))
    with pytest.raises(hb.AxeViolations, match="image-alt"):
        axe(page_nojs)


def test_a_screenshot_lands_in_gatehouse_screenshots_named_after_the_test_and_step(page, local_site, screenshot):
    page.goto(local_site({"/": GOOD}).url("/"))
    path = screenshot(page, "good page")
    assert path == hb.SCREENSHOTS / "a_screenshot_lands_in_gatehouse_screenshots_named_after_the_test_and_step-good-page.png"
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000


def test_javascript_off_really_disables_scripts(new_page, local_site):
    site = local_site({"/": SCRIPTED, "/app.js": Response(APP_JS, 200, {"Content-Type": "text/javascript"})})
    on, off = new_page(), new_page(js=False)
    on.goto(site.url("/"))
    off.goto(site.url("/"))
    assert on.text_content("#status") == "The script ran."
    assert off.text_content("#status") == "The script has not run."
    assert off.evaluate("() => 1 + 1") == 2  # the harness itself can still look into the page


@pytest.mark.browser_errors_ok
def test_the_strict_csp_blocks_inline_script_and_style_and_the_errors_are_caught(page, local_site, page_errors):
    inline = """<!doctype html><html lang="en"><head><title>Inline</title><style>h1 { color: rgb(255, 0, 0); }</style></head>
<body><main><h1 style="font-size: 99px">Inline</h1><p id="status">untouched</p>
<script>document.getElementById("status").textContent = "inline ran";</script></main></body></html>"""
    page.goto(local_site({"/": html_page(inline)}).url("/"))
    assert page.text_content("#status") == "untouched"
    assert page.eval_on_selector("h1", "h => getComputedStyle(h).color") != "rgb(255, 0, 0)"
    assert page.eval_on_selector("h1", "h => getComputedStyle(h).fontSize") != "99px"
    refused = [m for m in page_errors(page) if "Content Security Policy" in m]
    assert len(refused) >= 3, page_errors(page)
    assert "'unsafe-inline'" not in content_security_policy()


def test_a_mail_yields_its_links_and_token_from_html_or_text():
    html = Mail(["a@example.com"], "Confirm your email address for Acme",
                '<p>Hello</p><p><a href="http://127.0.0.1:9000/portal/p1/verify-email?token=ghv_abc.DEF-1&amp;x=1">Confirm</a></p>'
                '<p><a href="http://127.0.0.1:9000/portal/p1/login">Sign in</a></p>')
    assert html.links() == ["http://127.0.0.1:9000/portal/p1/verify-email?token=ghv_abc.DEF-1&x=1",
                            "http://127.0.0.1:9000/portal/p1/login"]
    assert html.link("verify-email").endswith("x=1") and html.token() == "ghv_abc.DEF-1"
    assert html.link("/login").endswith("/login")
    text = Mail(["a@example.com"], "Reset", "Choose a new password here:\n\nhttps://dev.example/reset-password?token=ghr_xyz\n")
    assert text.token() == "ghr_xyz"
    with pytest.raises(AssertionError, match="no link containing 'invite'"):
        html.link("invite")


def test_the_mailbox_reader_waits_for_a_mail_to_its_address(local_site):
    polls = {"n": 0}
    mail = {"id": "m1", "type": "simple", "from": "no-reply@gatehouse.local", "to": ["dev@example.com"], "cc": [], "bcc": [],
            "subject": "You are invited to Acme", "body": '<a href="http://127.0.0.1:9000/portal/p/invite?token=ghi_123">Accept</a>'}

    def mailbox(request: Request) -> Response | None:
        if request.path != "/mailbox":
            return None
        polls["n"] += 1
        wanted = request.query.get("to", [""])[0]
        mails = [mail] if polls["n"] >= 3 and wanted in mail["to"] else []
        return Response(json.dumps(mails).encode(), 200, {"Content-Type": "application/json"})

    box = Mailbox(local_site(routes=(mailbox,)).url("/mailbox"))
    found = box.wait_for("dev@example.com", "invited", timeout=10)
    assert polls["n"] >= 3 and found[0].token() == "ghi_123"
    with pytest.raises(AssertionError, match="no mail 'invited' reached other@example.com"):
        box.wait_for("other@example.com", "invited", timeout=0.5)


def test_the_stack_is_reported_down_with_the_reason(tmp_path, monkeypatch, local_site):
    for key in ("GATEHOUSE_API", "GATEHOUSE_ADMIN_TOKEN", "GATEHOUSE_PORTAL_ID", "GATEHOUSE_MAILBOX"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("GATEHOUSE_ENV_FILE", str(tmp_path / "missing.env"))
    with pytest.raises(StackDown, match="missing.env is missing"):
        Stack.connect()
    closed = local_site()
    closed.__exit__(None, None, None)
    env = tmp_path / "local.env"
    env.write_text(f"GATEHOUSE_API={closed.origin}/api\nGATEHOUSE_ADMIN_TOKEN=x\nGATEHOUSE_PORTAL_ID=p\n"
                   f"GATEHOUSE_MAILBOX={closed.origin}/mailbox\n")
    monkeypatch.setenv("GATEHOUSE_ENV_FILE", str(env))
    with pytest.raises(StackDown, match=re.escape(f"{closed.origin}/api does not answer")):
        Stack.connect(timeout=1)


@pytest.mark.browser_errors_ok
def test_a_missing_asset_is_a_browser_error_but_a_page_answered_404_on_purpose_is_not(page, local_site, page_errors):
    site = local_site({"/": '<!doctype html><html lang="en"><head><title>t</title><link rel="stylesheet" href="/missing.css"></head>'
                             '<body><main><h1>t</h1></main></body></html>'})
    assert page.goto(site.url("/nowhere")).status == 404
    assert page_errors(page) == []
    page.goto(site.url("/"))
    assert [m for m in page_errors(page) if "404" in m and "/missing.css" in m], page_errors(page)
