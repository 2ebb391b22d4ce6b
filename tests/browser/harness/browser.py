"""Debian's Chromium driven by Playwright, axe-core from npm, and screenshots."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .stack import REPO

CHROMIUM = os.environ.get("GATEHOUSE_CHROMIUM", "/usr/bin/chromium")
# Root needs --no-sandbox; the rest keeps a headless run quiet and off the network. Playwright
# gives every launch a fresh profile (--user-data-dir in a new temporary folder, removed on
# close); it refuses the flag itself, which only launch_persistent_context takes.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
AXE_JS = REPO / "tests" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(os.environ.get("GATEHOUSE_SCREENSHOTS") or REPO / ".gatehouse" / "screenshots")
# What an axe run checks: WCAG 2.0-2.2 A and AA, plus axe's best practices.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
FAILING_IMPACTS = ("serious", "critical")


def missing_tools() -> list[str]:
    """What the harness needs and this machine lacks (bash infra/setup.sh installs it all)."""
    missing = []
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        missing.append(f"Chromium ({CHROMIUM}: apt-get install chromium)")
    if not AXE_JS.exists():
        missing.append(f"axe-core ({AXE_JS.relative_to(REPO)}: npm ci --prefix tests/browser)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("Playwright for Python (pip install -r infra/requirements.txt)")
    return missing


def launch(playwright: Any):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


# ------------------------------------------------------------------------------ axe


@dataclass
class Violation:
    id: str
    impact: str
    help: str
    help_url: str
    nodes: list[dict]

    def report(self) -> str:
        lines = [f"[{self.impact}] {self.id}: {self.help} ({self.help_url})"]
        for node in self.nodes[:5]:
            target = " ".join(" > ".join(t) if isinstance(t, list) else str(t) for t in node.get("target", []))
            summary = " ".join((node.get("failureSummary") or "").split())
            lines.append(f"    at {target}: {summary}")
            lines.append(f"       {' '.join(node.get('html', '').split())[:200]}")
        if len(self.nodes) > 5:
            lines.append(f"    ... and {len(self.nodes) - 5} more")
        return "\n".join(lines)


class AxeViolations(AssertionError):
    def __init__(self, url: str, violations: list[Violation]):
        self.violations = violations
        body = "\n".join(v.report() for v in violations)
        super().__init__(f"axe-core found {len(violations)} serious or critical violation(s) on {url}:\n{body}")


_AXE_SOURCE: str | None = None
_SCRIPTS_OFF: set[int] = set()
# Chromium runs no timers in a page whose scripts are off (DevTools evaluations still run), and
# axe-core yields with setTimeout: on such a page, and only there, timers become microtasks.
_TIMERS_AS_MICROTASKS = """() => {
  window.setTimeout = (fn, ms, ...args) => { Promise.resolve().then(() => fn(...args)); return 0; };
  window.clearTimeout = () => {};
}"""


def note_scripts_off(page: Any) -> None:
    """Tells run_axe that this page was opened with JavaScript off (the fixtures do)."""
    _SCRIPTS_OFF.add(id(page))
    page.on("close", lambda _: _SCRIPTS_OFF.discard(id(page)))


_ANIMATIONS_SETTLED = """() => Promise.all(document.getAnimations()
    .filter(a => a.effect && a.effect.getComputedTiming().endTime !== Infinity)
    .map(a => a.finished.catch(() => null)))"""


def run_axe(page: Any, context: Any = None, tags: list[str] | None = None, disable: tuple[str, ...] = ()) -> list[Violation]:
    """Every violation axe-core finds on the page as it is now (all impacts). The npm file is
    evaluated in the page through DevTools, so a strict Content-Security-Policy, Trusted Types
    or disabled JavaScript on the page do not stop it."""
    global _AXE_SOURCE
    if _AXE_SOURCE is None:
        _AXE_SOURCE = AXE_JS.read_text(encoding="utf-8")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_AXE_SOURCE)
        if id(page) in _SCRIPTS_OFF:
            page.evaluate(_TIMERS_AS_MICROTASKS)
    # A dialog opening or a button's hover transition caught half-way blends colours that the
    # page never rests in (a contrast failure that is not there): let every finite CSS
    # animation and transition end first.
    page.evaluate(_ANIMATIONS_SETTLED)
    options = {"runOnly": {"type": "tag", "values": tags or AXE_TAGS}, "resultTypes": ["violations"],
               "rules": {rule: {"enabled": False} for rule in disable}}
    raw = page.evaluate("([context, options]) => axe.run(context || document, options).then(r => r.violations)", [context, options])
    return [Violation(v["id"], v.get("impact") or "minor", v["help"], v["helpUrl"], v["nodes"]) for v in raw]


def assert_accessible(page: Any, context: Any = None, impacts: tuple[str, ...] = FAILING_IMPACTS, disable: tuple[str, ...] = ()) -> list[Violation]:
    """Runs axe-core and fails (AxeViolations, one readable paragraph per rule) on any
    violation of the given impacts; returns the lesser ones."""
    found = run_axe(page, context, disable=disable)
    failing = [v for v in found if v.impact in impacts]
    if failing:
        raise AxeViolations(page.url, failing)
    return found


# ------------------------------------------------------------------------------ screenshots


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")


def screenshot_path(test: str, step: str) -> Path:
    """`.gatehouse/screenshots/<test>-<step>.png` (names reduced to letters, digits, _ . -)."""
    return SCREENSHOTS / f"{slug(test)}-{slug(step)}.png"


def take_screenshot(page: Any, test: str, step: str, full_page: bool = True) -> Path:
    path = screenshot_path(test, step)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=full_page, animations="disabled")
    return path
