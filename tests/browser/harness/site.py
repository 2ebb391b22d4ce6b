"""The pages' conventions as a small reference implementation (shared/templates/pages/README.md
is the rule; the Rust functions implement the same): hashed asset names, the generated brand
stylesheet, the headers every page carries, the minijinja environment the templates are
written for, and a local HTTP server that serves all of it on a free loopback port."""

from __future__ import annotations

import hashlib
import re
import threading
import urllib.parse
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Iterator

from .stack import REPO

TEMPLATES = REPO / "shared" / "templates" / "pages"
STATIC = REPO / "shared" / "static"
ASSET_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}
IMMUTABLE = "public, max-age=31536000, immutable"

# ------------------------------------------------------------------------------ assets


def asset_name(name: str, content: bytes | None = None) -> str:
    """`gatehouse.css` -> `gatehouse.<first 16 hex digits of its SHA-256>.css`."""
    data = (STATIC / name).read_bytes() if content is None else content
    stem, dot, ext = name.rpartition(".")
    return f"{stem}.{hashlib.sha256(data).hexdigest()[:16]}.{ext}"


def asset_url(name: str) -> str:
    """The template function `asset(name)`: the hashed URL of a file of shared/static/."""
    return f"/static/{asset_name(name)}"


# ------------------------------------------------------------------------------ brand colour

BRAND_COLOR = re.compile(r"^#[0-9a-f]{6}$")
DEFAULT_BRAND = "#4f46e5"
WHITE, INK = (255, 255, 255), (17, 24, 39)
LIGHT_SURFACES = ((255, 255, 255), (245, 246, 248), (240, 242, 245))  # --gh-surface, --gh-bg, --gh-surface-2
DARK_SURFACES = ((22, 27, 34), (13, 17, 23), (31, 38, 48))


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#" + "".join(f"{c:02x}" for c in rgb)


def luminance(rgb: tuple[int, int, int]) -> float:
    """WCAG 2 relative luminance."""
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _toward(rgb, target, against, ratio: float) -> tuple[int, int, int]:
    """The first of `rgb` mixed with `target` in steps of 5 % that has `ratio` against every
    colour of `against`."""
    for step in range(21):
        t = step / 20
        mixed = tuple(round(c + (d - c) * t) for c, d in zip(rgb, target))
        if all(contrast(mixed, s) >= ratio for s in against):
            return mixed  # type: ignore[return-value]
    return target


def _on(fill) -> tuple[int, int, int]:
    return WHITE if contrast(fill, WHITE) >= contrast(fill, INK) else INK


def _fill(rgb) -> tuple[int, int, int]:
    """A fill that carries white or ink text at 4.5:1: mid-tones are darkened until white does."""
    if contrast(rgb, _on(rgb)) >= 4.5:
        return rgb
    return _toward(rgb, (0, 0, 0), (WHITE,), 4.5)


def brand_palette(brand: str) -> dict[str, dict[str, str]]:
    """The custom properties a brand colour sets, per colour scheme: `--gh-brand` (fills:
    primary buttons, the logo mark, the selected tab's count; in the dark scheme lightened to
    at least 3:1 against the dark surfaces; darkened where neither white nor ink text on it
    would reach 4.5:1), `--gh-on-brand` (text on those fills: white or ink, whichever
    contrasts more) and `--gh-brand-text` (links, the selected tab's and the current page's
    underline: the brand mixed toward black (light) or white (dark) until it has 4.5:1 against
    the three surfaces of the scheme)."""
    assert BRAND_COLOR.match(brand), brand
    rgb = _rgb(brand)
    light_fill, dark_fill = _fill(rgb), _fill(_toward(rgb, WHITE, DARK_SURFACES, 3.0))
    return {
        "light": {"--gh-brand": _hex(light_fill), "--gh-on-brand": _hex(_on(light_fill)),
                  "--gh-brand-text": _hex(_toward(rgb, (0, 0, 0), LIGHT_SURFACES, 4.5))},
        "dark": {"--gh-brand": _hex(dark_fill), "--gh-on-brand": _hex(_on(dark_fill)),
                 "--gh-brand-text": _hex(_toward(rgb, WHITE, DARK_SURFACES, 4.5))},
    }


def brand_css(brand: str) -> str:
    """The body of `/static/brand/<rrggbb>.css`."""
    p = brand_palette(brand)
    light = ";".join(f"{k}:{v}" for k, v in p["light"].items())
    dark = ";".join(f"{k}:{v}" for k, v in p["dark"].items())
    return f":root{{{light}}}\n@media (prefers-color-scheme:dark){{:root{{{dark}}}}}\n"


# ------------------------------------------------------------------------------ headers


def content_security_policy(image_origins: tuple[str, ...] = ()) -> str:
    """The pages' Content-Security-Policy; `image_origins` is the logo's origin, if any."""
    return "; ".join([
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        " ".join(["img-src 'self'", *image_origins]),
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "require-trusted-types-for 'script'",
        "trusted-types 'none'",
    ])


def page_headers(image_origins: tuple[str, ...] = ()) -> dict[str, str]:
    """The headers of every HTML page."""
    return {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": content_security_policy(image_origins),
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cache-Control": "no-store",
    }


FORBIDDEN_MARKUP = {
    "an inline <script>": r"<script(?![^>]*\bsrc=)",
    "a <script> from another origin": r"<script[^>]*\bsrc=[\"']?(?:https?:)?//",
    "a <style> element": r"<style[\s>]",
    "a style attribute": r"\sstyle\s*=",
    "an event handler attribute": r"\son[a-z]+\s*=",
    "a javascript: URL": r"javascript:",
    "a stylesheet from another origin": r"<link[^>]*\bhref=[\"']?(?:https?:)?//[^>]*stylesheet|<link[^>]*stylesheet[^>]*\bhref=[\"']?(?:https?:)?//",
    "a frame": r"<i?frame[\s>]",
    "a <base> element": r"<base[\s>]",
}


def forbidden_markup(html: str) -> list[str]:
    """What a page's HTML must not contain under the strict CSP (README.md, "What a page
    must not contain"); empty when it is clean."""
    return [what for what, pattern in FORBIDDEN_MARKUP.items() if re.search(pattern, html, re.I)]


# ------------------------------------------------------------------------------ templates


def template_env(*extra_roots: Path):
    """A minijinja environment set as the Rust functions set theirs: templates named by their
    path under shared/templates/pages/ (then `extra_roots`), HTML auto-escaping for `.html`,
    SemiStrict undefined values (an optional key may be missing in `if`/`or`/`default`, but
    printing or iterating a missing value is an error), trim_blocks and lstrip_blocks, no
    Python-only methods, and the `asset(name)` function."""
    import minijinja

    roots = (TEMPLATES, *extra_roots)

    def load(name: str) -> str | None:
        for root in roots:
            path = (root / name).resolve()
            if path.is_file() and root.resolve() in path.parents:
                return path.read_text(encoding="utf-8")
        return None

    return minijinja.Environment(
        loader=load, undefined_behavior="semi_strict", trim_blocks=True, lstrip_blocks=True, pycompat=False,
        auto_escape_callback=lambda name: "html" if name.endswith(".html") else None, globals={"asset": asset_url})


# ------------------------------------------------------------------------------ local server


@dataclass
class Response:
    body: bytes
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    form: dict[str, list[str]]
    headers: dict[str, str]


Route = Callable[[Request], "Response | None"]


def html_page(body: str | bytes, status: int = 200, image_origins: tuple[str, ...] = ()) -> Response:
    """An HTML response with every header the pages carry (the strict CSP among them)."""
    data = body.encode() if isinstance(body, str) else body
    return Response(data, status, page_headers(image_origins))


def see_other(location: str) -> Response:
    """The answer to a POST that worked: 303 to the page to show (POST-redirect-GET)."""
    return Response(b"", 303, {"Location": location, "Cache-Control": "no-store"})


def static_file(request: Request) -> Response | None:
    """`/static/<name>.<hash>.<ext>` (a file of shared/static/ under its current hash) and
    `/static/brand/<rrggbb>.css`; anything else under /static/ is 404."""
    path = request.path
    if request.method != "GET" or not path.startswith("/static/"):
        return None
    rest = path[len("/static/"):]
    brand = re.fullmatch(r"brand/([0-9a-f]{6})\.css", rest)
    if brand:
        return Response(brand_css("#" + brand.group(1)).encode(), 200,
                        {"Content-Type": ASSET_TYPES[".css"], "Cache-Control": IMMUTABLE, "X-Content-Type-Options": "nosniff"})
    m = re.fullmatch(r"([a-z0-9-]+)\.[0-9a-f]{16}(\.[a-z]+)", rest)
    if m and (STATIC / (m.group(1) + m.group(2))).is_file():
        name = m.group(1) + m.group(2)
        if asset_name(name) == rest:
            return Response((STATIC / name).read_bytes(), 200,
                            {"Content-Type": ASSET_TYPES.get(m.group(2), "application/octet-stream"),
                             "Cache-Control": IMMUTABLE, "X-Content-Type-Options": "nosniff"})
    return Response(b"not found", 404, {"Content-Type": "text/plain; charset=utf-8"})


class LocalSite:
    """A ThreadingHTTPServer on a free port of 127.0.0.1 (run the tests inside a private
    network namespace). `pages` maps paths to GET responses (a string is an HTML page with the
    pages' headers); `/static/` is served from shared/static/ as the Rust side will; `routes`
    are functions tried first, Request -> Response or None. Every request is kept in
    `requests` (POST forms decoded)."""

    def __init__(self, pages: dict[str, "Response | str"] | None = None, routes: tuple[Route, ...] = ()) -> None:
        self.pages: dict[str, Response] = {}
        self.routes = routes
        self.requests: list[Request] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "gatehouse-test-site"

            def log_message(self, fmt: str, *args) -> None:
                pass

            def answer(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
                form = urllib.parse.parse_qs(body, keep_blank_values=True) \
                    if self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded") else {}
                request = Request(self.command, url.path, urllib.parse.parse_qs(url.query, keep_blank_values=True), form,
                                  {k.lower(): v for k, v in self.headers.items()})
                site.requests.append(request)
                found = next((r for r in (route(request) for route in (*site.routes, static_file)) if r), None)
                if found is None and self.command == "GET":
                    found = site.pages.get(url.path)
                if found is None and url.path == "/favicon.ico":  # what Chromium asks a page without an icon for
                    found = Response((STATIC / "favicon.svg").read_bytes(), 200, {"Content-Type": ASSET_TYPES[".svg"]})
                found = found or Response(b"not found", 404, {"Content-Type": "text/plain; charset=utf-8"})
                self.send_response(found.status)
                for k, v in found.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(found.body)))
                self.end_headers()
                self.wfile.write(found.body)

            do_GET = do_POST = answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        for path, page in (pages or {}).items():
            self.add(path, page)

    def add(self, path: str, page: "Response | str") -> str:
        """Adds (or replaces) a GET page; returns its absolute URL."""
        self.pages[path] = html_page(page) if isinstance(page, str) else page
        return self.url(path)

    def url(self, path: str) -> str:
        return self.origin + path

    def posts(self, path: str | None = None) -> list[Request]:
        """The POST requests received so far (to `path`)."""
        return [r for r in self.requests if r.method == "POST" and (path is None or r.path == path)]

    def __enter__(self) -> "LocalSite":
        threading.Thread(target=self.server.serve_forever, name="local-site", daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def serve(pages: dict[str, "Response | str"] | None = None, routes: tuple[Route, ...] = ()) -> Iterator[LocalSite]:
    with LocalSite(pages, routes) as site:
        yield site
