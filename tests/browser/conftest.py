"""Fixtures of the browser tests (tests/browser/README.md lists them).

    python3 -m pytest tests/browser -q

Tests that use `stack` are skipped, with the reason, when the local stack is not up (start it
in your namespace: `gh-netns NAME bash infra/local/up.sh --detach`); GATEHOUSE_REQUIRE_STACK=1
makes that a failure instead, for the test command.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Iterator

import pytest

from harness import browser as hb
from harness import site as hs
from harness.stack import Mailbox, Stack, StackDown, origin_of, read_env

_written: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "stack: needs the local stack (added to every test that uses the `stack` fixture)")
    config.addinivalue_line("markers", "browser_errors_ok: the page may log console errors or page errors")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "stack" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.stack)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _written:
        terminalreporter.write_line(f"screenshots: {len(_written)} written to {hb.SCREENSHOTS}")


def file_stem(request: pytest.FixtureRequest) -> str:
    """The test's name for files: without `test_`, parameters joined with `-`."""
    name = request.node.name.removeprefix("test_")
    return name.replace("[", "-").rstrip("]")


# ------------------------------------------------------------------------------ the stack


@pytest.fixture(scope="session")
def stack() -> Stack:
    """The running local stack (settings from .gatehouse/local.env); skips the test when the
    stack is not up."""
    try:
        return Stack.connect()
    except StackDown as e:
        message = f"the local stack is not up: {e}; start it with `gh-netns NAME bash infra/local/up.sh --detach`"
        if os.environ.get("GATEHOUSE_REQUIRE_STACK") == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="session")
def mailbox(stack: Stack) -> Mailbox:
    return stack.mailbox


@pytest.fixture(scope="session")
def pages_base() -> str | None:
    """The origin of the pages (the API's origin, http://127.0.0.1:9000 locally), from the env
    file without checking that the stack is up; None without an env file."""
    api = read_env().get("GATEHOUSE_API")
    return origin_of(api) if api else None


# ------------------------------------------------------------------------------ the browser


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium, launched once per run through Playwright."""
    missing = hb.missing_tools()
    if missing:
        pytest.fail("the browser tests need " + "; ".join(missing) + " (bash infra/setup.sh installs them)", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = hb.launch(pw)
        yield chromium
        chromium.close()


class PageErrors:
    """Console errors (a CSP violation is one; a page answered with an error status, which a
    test may ask for, is not) and uncaught exceptions of one page."""

    of: dict[int, "PageErrors"] = {}

    def __init__(self, page: Any) -> None:
        self.messages: list[str] = []
        self.documents: set[str] = set()
        page.on("request", lambda r: r.resource_type == "document" and self.documents.add(r.url))
        page.on("console", self.console)
        page.on("pageerror", lambda e: self.messages.append(f"page error: {e}"))
        PageErrors.of[id(page)] = self

    def console(self, message: Any) -> None:
        if message.type != "error":
            return
        if message.text.startswith("Failed to load resource") and message.location.get("url") in self.documents:
            return
        self.messages.append(f"console: {message.text} ({message.location.get('url')})")


@pytest.fixture
def new_page(browser: Any, request: pytest.FixtureRequest, pages_base: str | None) -> Iterator[Callable[..., Any]]:
    """`new_page(js=True, color_scheme="light", width=1280, height=800,
    reduced_motion="no-preference", base_url=<pages' origin>, **context_options)`: a page in a
    fresh browser context (its own cookies). At the end of the test every page must have logged
    no console error (a CSP violation is one) and no uncaught exception, unless the test is
    marked `browser_errors_ok`; a failed test leaves a screenshot of each page
    (`<test>-failure-<n>.png`)."""
    opened: list[tuple[Any, Any, PageErrors]] = []

    def make(js: bool = True, color_scheme: str = "light", width: int = 1280, height: int = 800,
             reduced_motion: str = "no-preference", base_url: str | None = None, **options: Any) -> Any:
        context = browser.new_context(java_script_enabled=js, color_scheme=color_scheme, reduced_motion=reduced_motion,
                                      viewport={"width": width, "height": height}, base_url=base_url or pages_base,
                                      locale="en-GB", timezone_id="UTC", **options)
        context.set_default_timeout(10_000)
        page = context.new_page()
        if not js:
            hb.note_scripts_off(page)
        opened.append((context, page, PageErrors(page)))
        return page

    yield make
    failed = getattr(request.node, "report_call", None)
    failed = failed is not None and failed.failed
    errors: list[str] = []
    for n, (context, page, page_errors) in enumerate(opened, 1):
        if failed and not page.is_closed():
            try:
                _written.append(str(hb.take_screenshot(page, file_stem(request), f"failure-{n}")))
            except Exception:
                pass
        errors += page_errors.messages
        PageErrors.of.pop(id(page), None)
        context.close()
    if errors and not failed and request.node.get_closest_marker("browser_errors_ok") is None:
        pytest.fail("the browser reported errors:\n  " + "\n  ".join(errors), pytrace=False)


@pytest.fixture
def page_errors() -> Callable[[Any], list[str]]:
    """`page_errors(page)`: what the page logged so far (console errors, uncaught exceptions)."""
    return lambda page: PageErrors.of[id(page)].messages


@pytest.fixture
def page(new_page: Callable[..., Any]) -> Any:
    """A page with JavaScript on (1280x800, light colour scheme)."""
    return new_page()


@pytest.fixture
def page_nojs(new_page: Callable[..., Any]) -> Any:
    """A page with JavaScript off: the pages' core actions must work in it."""
    return new_page(js=False)


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """`screenshot(page, step, full_page=True, test=None)` writes
    `.gatehouse/screenshots/<test>-<step>.png` (`test`: the test's name without `test_`, its
    parameters joined with `-`, unless given) and returns its path."""

    def take(page: Any, step: str, full_page: bool = True, test: str | None = None):
        path = hb.take_screenshot(page, test or file_stem(request), step, full_page)
        _written.append(str(path))
        return path

    return take


@pytest.fixture
def axe() -> Callable[..., list]:
    """`axe(page, context=None, disable=())`: fails on serious or critical axe-core violations
    with one paragraph per rule; returns the minor and moderate ones."""
    return hb.assert_accessible


@pytest.fixture
def local_site() -> Iterator[Callable[..., hs.LocalSite]]:
    """`local_site(pages={path: html or Response}, routes=())`: a local HTTP server on a free
    loopback port, serving shared/static/ as the Rust side will, closed after the test."""
    sites: list[hs.LocalSite] = []

    def start(pages: dict | None = None, routes: tuple = ()) -> hs.LocalSite:
        site = hs.LocalSite(pages, routes).__enter__()
        sites.append(site)
        return site

    yield start
    for site in sites:
        site.__exit__(None, None, None)
