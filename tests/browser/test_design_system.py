"""The design system (shared/templates/pages/, shared/static/) rendered with minijinja, as the
Rust functions will, on a demo page set (demo/pages.py), served locally with the pages'
headers and checked in Chromium: axe-core in both colour schemes at 1280 and 320 px,
screenshots, the HTML budget, the CSP rules, and what gatehouse.js adds (dialogs, copy,
password rules, tabs, the error summary) and what works without it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from demo import pages as demo
from harness import browser as hb
from harness import site as hs
from harness.stack import http

DEMO = Path(__file__).resolve().parent / "demo"
PAGES = demo.pages()
HTML_BUDGET = 30 * 1024


def render(name: str) -> str:
    page = PAGES[name]
    return hs.template_env(DEMO).render_template(page["template"], **page["context"])


def render_page(page: dict | None) -> hs.Response | None:
    return hs.html_page(hs.template_env(DEMO).render_template(page["template"], **page["context"])) if page else None


def demo_routes(request: hs.Request) -> hs.Response | None:
    """/demo/<name>; the confirmation pages a dialog's opener leads to without JavaScript
    (GET); any POST answers 303 to the page it came from (POST-redirect-GET)."""
    if request.method == "POST":
        back = "/demo/account" if request.path.startswith("/demo/account") else "/demo/console"
        return hs.see_other(back)
    m = re.fullmatch(r"/demo/account/applications/(\w+)/delete", request.path)
    if m:
        return render_page(demo.confirm_delete_app(m.group(1)))
    if request.path == f"{demo.CONSOLE_BASE}/developers/confirm":
        return render_page(demo.confirm_reject(request.query.get("reject", [""])[0]))
    m = re.fullmatch(r"/demo/([\w-]+)", request.path)
    if m and m.group(1) in PAGES:
        return hs.html_page(render(m.group(1)))
    return None


@pytest.fixture
def site(local_site) -> hs.LocalSite:
    return local_site(routes=(demo_routes,))


VIEWS = [(scheme, width) for scheme in ("light", "dark") for width in (1280, 320)]


@pytest.fixture(scope="module")
def views(browser):
    """One page per colour scheme and width, and one with JavaScript off, reused by the tests
    of this file that need nothing of their own (a new page costs a renderer process)."""
    from conftest import PageErrors

    opened = {}
    for scheme, width, js in [*((s, w, True) for s, w in VIEWS), ("light", 1280, False)]:
        context = browser.new_context(color_scheme=scheme, viewport={"width": width, "height": 900}, locale="en-GB",
                                      java_script_enabled=js)
        context.set_default_timeout(10_000)
        page = context.new_page()
        if not js:
            hb.note_scripts_off(page)
        opened[(scheme, width) if js else "nojs"] = (page, PageErrors(page))
    yield opened
    for page, _ in opened.values():
        page.context.close()


def reused(views, key):
    page, errors = views[key]
    errors.messages.clear()
    yield page
    assert not errors.messages, errors.messages


@pytest.fixture
def page(views):
    """This file's page with JavaScript on (light, 1280 px), fresh from its last navigation."""
    yield from reused(views, ("light", 1280))


@pytest.fixture
def page_nojs(views):
    yield from reused(views, "nojs")


@pytest.mark.parametrize("name", list(PAGES))
def test_every_demo_page_passes_axe_and_reflows_in_both_colour_schemes_at_1280_and_320_px(name, views, site, axe, screenshot):
    for (scheme, width) in VIEWS:
        page, errors = views[(scheme, width)]
        errors.messages.clear()
        page.goto(site.url(f"/demo/{name}"))
        try:
            axe(page)
        except AssertionError as e:
            raise AssertionError(f"{scheme} scheme, {width} px: {e}") from None
        overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{name} scrolls sideways by {overflow} px at {width} px"
        assert not errors.messages, (scheme, width, errors.messages)
        screenshot(page, f"{name}-{scheme}-{width}", test="demo")


@pytest.mark.parametrize("name", list(PAGES))
def test_every_demo_page_is_small_and_free_of_inline_script_style_and_handlers(name):
    html = render(name)
    assert len(html.encode()) < HTML_BUDGET, f"{name} is {len(html.encode())} bytes"
    assert hs.forbidden_markup(html) == []
    assert html.startswith("<!doctype html>\n<html lang=\"en\">")


def test_the_markup_check_catches_what_the_csp_forbids():
    found = hs.forbidden_markup('<script>x()</script><p style="color:red" onclick="y()"><a href="javascript:z()">'
                                '<link rel="stylesheet" href="https://cdn.example/x.css"><script src="//cdn.example/x.js"></script>')
    assert found == ["an inline <script>", "a <script> from another origin", "a style attribute", "an event handler attribute",
                     "a javascript: URL", "a stylesheet from another origin"]
    assert hs.forbidden_markup('<script src="/static/gatehouse.0123456789abcdef.js" defer></script>') == []


def test_the_templates_escape_what_users_typed():
    name = '<img src=x onerror="alert(1)">'
    context = {**PAGES["register-errors"]["context"], "site": {**demo.PORTAL, "name": name}}
    context["form"] = {**context["form"], "fields": [{"name": "name", "label": "Full name", "value": '"><script>x</script>'}]}
    html = hs.template_env(DEMO).render_template("register.html", **context)
    assert "<img src=x" not in html and "<script>x" not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html and "&quot;&gt;&lt;script&gt;" in html


def test_a_password_is_never_written_back_into_its_field():
    context = {**PAGES["login"]["context"]}
    fields = [dict(f) for f in context["form"]["fields"]]
    fields[1]["value"] = "correct horse battery staple"
    context["form"] = {**context["form"], "fields": fields}
    html = hs.template_env(DEMO).render_template("login.html", **context)
    assert "correct horse" not in html


def test_a_missing_value_in_the_context_is_an_error_not_an_empty_string():
    context = {k: v for k, v in PAGES["login"]["context"].items() if k != "title"}
    with pytest.raises(Exception, match="undefined"):
        hs.template_env(DEMO).render_template("login.html", **context)


@pytest.mark.parametrize("brand", ["#0f766e", "#ffd500", "#808080", "#000000", "#ffffff", "#e11d48", "#4f46e5", "#7dd3fc"])
def test_any_brand_colour_yields_text_and_fills_that_meet_wcag_aa(brand):
    palette = hs.brand_palette(brand)
    for scheme, surfaces in (("light", hs.LIGHT_SURFACES), ("dark", hs.DARK_SURFACES)):
        p = {k: hs._rgb(v) for k, v in palette[scheme].items()}
        assert hs.contrast(p["--gh-brand"], p["--gh-on-brand"]) >= 4.5, (scheme, palette)
        for surface in surfaces:
            assert hs.contrast(p["--gh-brand-text"], surface) >= 4.5, (scheme, surface, palette)
        if scheme == "dark":
            assert all(hs.contrast(p["--gh-brand"], s) >= 3 for s in surfaces), palette


def test_the_stylesheet_defaults_are_the_default_brand_colours():
    css = (hs.STATIC / "gatehouse.css").read_text()
    light, dark = css.split("@media (prefers-color-scheme: dark)", 1)
    for scheme, block in (("light", light), ("dark", dark)):
        for prop, value in hs.brand_palette(hs.DEFAULT_BRAND)[scheme].items():
            assert re.search(rf"{prop}: {value};", block), (scheme, prop, value)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_brand_stylesheet_colours_the_primary_button(scheme, views, site):
    page = views[(scheme, 1280)][0]
    page.goto(site.url("/demo/register"))
    expected = hs._rgb(hs.brand_palette(demo.PORTAL["brand_color"])[scheme]["--gh-brand"])
    colour = page.get_by_role("button", name="Create account").evaluate("b => getComputedStyle(b).backgroundColor")
    assert colour == "rgb({}, {}, {})".format(*expected)
    assert site.url("/static/brand/0f766e.css") in page.evaluate("() => [...document.styleSheets].map(s => s.href)")


def test_a_portal_logo_replaces_the_initial_and_its_origin_joins_img_src(page, local_site, axe):
    logo = local_site({"/logo.svg": hs.Response((hs.STATIC / "favicon.svg").read_bytes(), 200, {"Content-Type": "image/svg+xml"})})
    context = {**PAGES["login"]["context"], "site": {**demo.PORTAL, "logo_url": logo.url("/logo.svg")}}
    html = hs.template_env(DEMO).render_template("login.html", **context)
    site = local_site({"/": hs.html_page(html, image_origins=(logo.origin,))})
    page.goto(site.url("/"))
    image = page.locator(".gh-brand img")
    assert image.get_attribute("alt") == "" and image.evaluate("i => i.complete && i.naturalWidth > 0")
    assert page.get_by_role("link", name="Acme Developer Portal").is_visible()
    assert page.locator(".gh-brand__mark").count() == 0
    axe(page)


def test_reduced_motion_turns_off_transitions_and_animations(page, new_page, site):
    moving, still = page, new_page(reduced_motion="reduce")
    for page in (moving, still):
        page.goto(site.url("/demo/login"))
    duration = "b => getComputedStyle(b).transitionDuration"
    assert moving.get_by_role("button", name="Sign in").evaluate(duration) != "0s"
    assert still.get_by_role("button", name="Sign in").evaluate(duration) == "0s"


def test_a_form_with_errors_is_announced_and_leads_to_each_field(page, site, screenshot):
    page.goto(site.url("/demo/register-errors"))
    assert page.title().startswith("Error: ")
    summary = page.get_by_role("alert")
    assert "There is a problem" in summary.inner_text()
    assert page.evaluate("() => document.activeElement.matches('[data-gh-error-summary]')")
    email = page.get_by_label("Email address")
    assert email.get_attribute("aria-invalid") == "true"
    description = page.evaluate("""() => document.getElementById('f-email').getAttribute('aria-describedby')
        .split(' ').map(id => document.getElementById(id).textContent).join(' ')""")
    assert "Error: Enter an email address" in description
    summary.get_by_role("link", name=re.compile("Enter an email address")).click()
    assert page.evaluate("() => document.activeElement.id") == "f-email"
    screenshot(page, "errors")


def test_the_password_rules_follow_what_is_typed(page, site):
    page.goto(site.url("/demo/register"))
    rule = page.locator("[data-gh-rule='length']")
    password = page.get_by_label("Password", exact=True)
    password.fill("short")
    assert rule.get_attribute("data-met") == "false" and "(5, 3 to go)" in rule.inner_text()
    password.fill("a longer passphrase ✓")
    assert rule.get_attribute("data-met") == "true" and "(21, done)" in rule.inner_text()
    assert "Password length is fine" in page.locator("#gh-live").inner_text()


def test_the_copy_button_copies_the_key_and_says_so(new_page, site, screenshot):
    page = new_page(permissions=["clipboard-read", "clipboard-write"])
    page.goto(site.url("/demo/account"))
    page.get_by_role("button", name="Copy").click()
    assert page.evaluate("() => navigator.clipboard.readText()") == PAGES["account"]["context"]["new_key"]
    assert page.get_by_role("button", name="Copied").is_visible()
    assert "Copied to the clipboard" in page.locator("#gh-live").inner_text()
    screenshot(page, "copied")


def test_without_javascript_the_copy_button_is_hidden_and_the_key_is_selectable(page_nojs, site):
    page_nojs.goto(site.url("/demo/account"))
    assert page_nojs.get_by_role("button", name="Copy").count() == 0
    assert page_nojs.locator("#new-key").evaluate("c => getComputedStyle(c).userSelect") == "all"


def test_the_tabs_carry_their_counts_and_arrow_keys_move_between_them(page, site):
    page.goto(site.url("/demo/console"))
    tabs = page.get_by_role("tablist", name="Developers by state")
    assert tabs.get_by_role("tab", name="Approved 1284").get_attribute("aria-selected") == "false"
    current = tabs.get_by_role("tab", name="Requested access 23")
    assert current.get_attribute("aria-selected") == "true"
    assert page.get_by_role("tabpanel", name="Requested access 23").is_visible()
    current.focus()
    page.keyboard.press("ArrowRight")
    assert page.evaluate("() => document.activeElement.id") == "tab-approved"
    page.keyboard.press("End")
    assert page.evaluate("() => document.activeElement.id") == "tab-settings"
    page.keyboard.press("ArrowRight")
    assert page.evaluate("() => document.activeElement.id") == "tab-requested"
    assert [t.get_attribute("tabindex") for t in tabs.get_by_role("tab").all()].count("0") == 1


def test_the_confirmation_dialog_names_its_row_posts_with_its_value_and_cancels_to_its_opener(page, site, axe, screenshot):
    page.goto(site.url("/demo/console"))
    row = page.get_by_role("row", name=re.compile("Grace Hopper"))
    row.get_by_role("button", name="Reject").click()
    dialog = page.get_by_role("dialog", name="Reject this developer?")
    assert dialog.is_visible() and "Grace Hopper" in dialog.inner_text()
    assert page.evaluate("() => document.activeElement.textContent") == "Cancel"
    axe(page)
    screenshot(page, "dialog", full_page=False)
    dialog.get_by_role("button", name="Cancel").click()
    assert not dialog.is_visible()
    assert page.evaluate("() => document.activeElement.textContent") == "Reject"
    assert page.evaluate("() => document.activeElement.closest('tr').querySelector('th').textContent") == "Grace Hopper"
    page.keyboard.press("Enter")
    assert dialog.is_visible()
    page.keyboard.press("Escape")
    assert not dialog.is_visible()
    row.get_by_role("button", name="Reject").click()
    with page.expect_navigation():
        dialog.get_by_role("button", name="Reject").click()
    posted = site.posts(f"{demo.CONSOLE_BASE}/developers/decide")
    assert [p.form for p in posted] == [{"csrf_token": [demo.CSRF], "reject": [demo.developer_id(1)]}]
    assert page.url == site.url("/demo/console")


def test_a_row_action_posts_the_shared_form_with_its_own_value(page, site):
    page.goto(site.url("/demo/console"))
    with page.expect_navigation():
        page.get_by_role("row", name=re.compile("Alan Turing")).get_by_role("button", name="Accept").click()
    assert [p.form for p in site.posts()] == [{"csrf_token": [demo.CSRF], "accept": [demo.developer_id(2)]}]


def test_bulk_actions_post_the_selected_rows(page, site):
    page.goto(site.url("/demo/console"))
    page.get_by_role("checkbox", name="Select Ada Lovelace").check()
    page.get_by_role("checkbox", name="Select Katherine Johnson").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Accept selected").click()
    form = site.posts()[0].form
    assert form["action"] == ["accept"] and form["developer"] == [demo.developer_id(0), demo.developer_id(3)]


def test_without_javascript_a_dialog_button_leads_to_a_confirmation_page_that_posts(page_nojs, site, axe, screenshot):
    page = page_nojs
    page.goto(site.url("/demo/account"))
    assert not page.get_by_role("dialog").is_visible()
    page.get_by_role("row", name=re.compile("Billing sync")).get_by_role("button", name="Delete").click()
    assert page.url == site.url("/demo/account/applications/a1/delete?")
    assert page.get_by_role("heading", level=1).inner_text() == "Delete this application?"
    assert "Billing sync" in page.locator("main").inner_text()
    axe(page)
    screenshot(page, "confirmation-page")
    with page.expect_navigation():
        page.get_by_role("button", name="Delete application").click()
    posted = site.posts("/demo/account/applications/a1/delete")
    assert [p.form for p in posted] == [{"csrf_token": [demo.CSRF]}]
    assert page.url == site.url("/demo/account")


def test_without_javascript_a_row_dialog_leads_to_its_confirmation_page(page_nojs, site):
    page_nojs.goto(site.url("/demo/console"))
    page_nojs.get_by_role("row", name=re.compile("Grace Hopper")).get_by_role("button", name="Reject").click()
    assert page_nojs.get_by_role("heading", level=1).inner_text() == "Reject this developer?"
    with page_nojs.expect_navigation():
        page_nojs.get_by_role("button", name="Reject").click()
    assert [p.form for p in site.posts()] == [{"csrf_token": [demo.CSRF], "reject": [demo.developer_id(1)]}]


def test_the_skip_link_is_the_first_stop_and_leads_to_main(page, site):
    page.goto(site.url("/demo/register"))
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    assert page.evaluate("() => document.activeElement.textContent") == "Skip to content" and skip.is_visible()
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"


def test_hashed_assets_are_served_immutable_and_stale_names_are_not(site):
    css = hs.asset_url("gatehouse.css")
    ok = http("GET", site.url(css))
    assert ok.status == 200 and ok.headers["cache-control"] == hs.IMMUTABLE and ok.headers["content-type"].startswith("text/css")
    assert http("GET", site.url("/static/gatehouse.0000000000000000.css")).status == 404
    assert http("GET", site.url("/static/brand/0F766E.css")).status == 404
    page = http("GET", site.url("/demo/login"))
    assert page.headers["content-security-policy"] == hs.content_security_policy()
    assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"
