"""The demo page set: sample contexts for the design system's templates (shared/templates/pages/)
and the demo pages beside this file, in the shapes the Rust functions will pass. Served by
test_design_system.py under /demo/<name>."""

from __future__ import annotations

import uuid

CSRF = "demo-csrf-token-7f3a9c2e41b8d6f0a1c3"
PORTAL = {"name": "Acme Developer Portal", "home_url": "/demo/login", "brand_color": "#0f766e", "kind": "portal"}
CONSOLE = {"name": "Gatehouse", "home_url": "/demo/console", "kind": "console"}
FOOTER = [{"label": "API documentation", "href": "/demo/login"}, {"label": "Status", "href": "/demo/login"},
          {"label": "Privacy", "href": "/demo/login"}]
PASSWORD_RULES = {"min": 8, "max": 128,
                  "note": "Hard to guess: not your name, email address or a common phrase. We check this when you submit."}
PORTAL_ID = "5b0f6c1e-2d4a-4c3b-9e8f-7a6b5c4d3e2f"
CONSOLE_BASE = f"/demo/console/portals/{PORTAL_ID}"
PEOPLE = ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Katherine Johnson", "Edsger Dijkstra", "Barbara Liskov",
          "Donald Knuth", "Margaret Hamilton", "Ken Thompson", "Frances Allen", "Dennis Ritchie", "Radia Perlman",
          "John Backus", "Hedy Lamarr", "Tim Berners-Lee", "Shafi Goldwasser", "Leslie Lamport", "Adele Goldberg",
          "Niklaus Wirth", "Anita Borg", "Vint Cerf", "Sophie Wilson", "Linus Torvalds", "Jean Sammet", "Bjarne Stroustrup"]
PAGE_SIZE = 20  # the console's rows per page (README.md, "Size")


def developer_id(i: int) -> str:
    return str(uuid.UUID(int=0x2C5E_0000_0000_4000_8000_0000_0000_0000 + i))


def register(with_errors: bool) -> dict:
    values = {"name": "Ada Lovelace", "email": "ada@example", "username": "ada"} if with_errors else {}
    email_error = "Enter an email address like name@example.com"
    password_error = "Password is too easy to guess: add another word or two"
    fields = [
        {"name": "name", "label": "Full name", "autocomplete": "name", "required": True, "value": values.get("name")},
        {"name": "email", "label": "Email address", "type": "email", "autocomplete": "email", "required": True,
         "hint": "We send a link to confirm it.", "value": values.get("email"), "error": email_error if with_errors else None},
        {"name": "username", "label": "Username", "autocomplete": "username", "optional": True,
         "hint": "You can sign in with it instead of your email address.", "value": values.get("username")},
        {"name": "password", "label": "Password", "type": "password", "autocomplete": "new-password", "required": True,
         "rules": PASSWORD_RULES, "error": password_error if with_errors else None},
    ]
    context = {
        "title": "Create your account", "site": PORTAL, "csrf_token": CSRF, "footer_links": FOOTER,
        "form": {"action": "/demo/register", "fields": [{k: v for k, v in f.items() if v is not None} for f in fields]},
        "sso": [{"name": "Acme SSO", "href": "/demo/login"}], "login_url": "/demo/login",
    }
    if with_errors:
        context["errors"] = [{"field": "email", "message": email_error}, {"field": "password", "message": password_error}]
    return {"template": "register.html", "context": context}


def login() -> dict:
    return {"template": "login.html", "context": {
        "title": "Sign in", "site": PORTAL, "csrf_token": CSRF, "footer_links": FOOTER,
        "errors": [{"message": "Wrong email, username or password. Check them and try again, or reset your password."}],
        "form": {"action": "/demo/login", "fields": [
            {"name": "login", "label": "Email address or username", "autocomplete": "username", "required": True, "value": "ada@example.com"},
            {"name": "password", "label": "Password", "type": "password", "autocomplete": "current-password", "required": True}]},
        "forgot_url": "/demo/login", "register_url": "/demo/register"}}


def requested_developers() -> list[dict]:
    ages = ["2 minutes ago", "1 hour ago", "yesterday", "3 days ago", "last week"]
    rows = []
    for i, name in enumerate(PEOPLE[:PAGE_SIZE]):
        did = developer_id(i)
        email = name.lower().replace(" ", ".").replace("-", "") + "@example.com"
        rows.append({"id": did, "href": f"{CONSOLE_BASE}/developers/{did}",
                     "cells": {"name": name, "email": email, "state": "Pending", "registered": ages[i % len(ages)]},
                     "actions": [
                         {"label": "Accept", "form": "row-actions", "name": "accept", "value": did},
                         {"label": "Reject", "kind": "secondary", "form": "row-confirm", "name": "reject",
                          "value": did, "opens": "reject"}]})
    return rows


def console() -> dict:
    tab = lambda label, count, key, current=False: {"label": label, "count": count, "href": f"{CONSOLE_BASE}?tab={key}",
                                                    "id": f"tab-{key}", "current": current}
    return {"template": "console.html", "context": {
        "title": "Developers", "site": CONSOLE, "csrf_token": CSRF,
        "nav": [{"label": "Portals", "href": "/demo/console", "current": True}, {"label": "Admin tokens", "href": "/demo/console"}],
        "user": {"name": "Admin token …f3a9", "sign_out_action": "/demo/console/sign-out"},
        "notices": [{"kind": "success", "text": "Linus Torvalds was approved and has been sent an email."}],
        "portal_name": "Acme Developer Portal", "total": 1321, "invite_url": f"{CONSOLE_BASE}/invite",
        "tabs": {"label": "Developers by state", "panel_id": "developers-panel", "items": [
            tab("Requested access", 23, "requested", True), tab("Approved", 1284, "approved"), tab("Revoked", 12, "revoked"),
            tab("Rejected", 0, "rejected"), tab("Invites", None, "invites"), tab("Teams", None, "teams"),
            tab("Audit log", None, "audit"), tab("Webhooks", None, "webhooks"), tab("Settings", None, "settings")]},
        "current_tab": "tab-requested",
        "search": {"action": CONSOLE_BASE, "field": {"name": "q", "label": "Search developers", "type": "search",
                                                     "hint": "Email, username or name, from the start"}},
        "decide_action": f"{CONSOLE_BASE}/developers/decide", "confirm_url": f"{CONSOLE_BASE}/developers/confirm",
        "table": {"id": "developers", "caption": "Developers waiting for access", "caption_hidden": True,
                  "columns": [{"key": "name", "label": "Name"}, {"key": "email", "label": "Email"},
                              {"key": "state", "label": "State", "badge": True}, {"key": "registered", "label": "Registered"}],
                  "select": {"form": "bulk", "name": "developer"}, "rows": requested_developers()},
        "pager": {"text": f"1–{PAGE_SIZE} of 23", "next": f"{CONSOLE_BASE}?tab=requested&cursor=next"},
        "reject_dialog": {"id": "reject", "title": "Reject this developer?", "confirm_label": "Reject",
                          "action": f"{CONSOLE_BASE}/developers/decide",
                          "text": "They cannot sign in, and they get no email. You can approve them later from the Rejected tab."}}}


APPS = [("a1", "Billing sync", "2", "12 Mar 2025"), ("a2", "Mobile app (staging)", "1", "2 Apr 2025")]
DELETE_APP = {"id": "delete-app", "title": "Delete this application?", "confirm_label": "Delete application",
              "text": "Its API keys stop working at once. This cannot be undone."}


def account() -> dict:
    rows = [{"id": aid, "cells": {"name": name, "keys": keys, "created": created},
             "actions": [{"label": "Delete", "kind": "danger", "opens": "delete-app",
                          "action": f"/demo/account/applications/{aid}/delete"}]}
            for aid, name, keys, created in APPS]
    return {"template": "account.html", "context": {
        "title": "Your account", "site": PORTAL, "csrf_token": CSRF, "footer_links": FOOTER,
        "nav": [{"label": "Account", "href": "/demo/account", "current": True}, {"label": "Documentation", "href": "/demo/account"}],
        "user": {"name": "Ada Lovelace", "email": "ada@analytical.example", "sign_out_action": "/demo/sign-out"},
        "notices": [{"kind": "success", "text": "API key created for Billing sync."}],
        "new_key": "ghk_live_9QmT4vX2pL7rN8sK3wY6zB1cD5fH0jA",
        "profile": [{"label": "Name", "value": "Ada Lovelace"}, {"label": "Email", "value": "ada@analytical.example"},
                    {"label": "Username", "value": "ada"}, {"label": "Member since", "value": "12 March 2025"}],
        "new_app_url": "/demo/account",
        "table": {"id": "applications", "caption": "Your applications", "caption_hidden": True,
                  "columns": [{"key": "name", "label": "Application"}, {"key": "keys", "label": "API keys", "numeric": True},
                              {"key": "created", "label": "Created"}], "rows": rows},
        "delete_dialog": DELETE_APP}}


def confirm_delete_app(aid: str) -> dict | None:
    """The page GET /demo/account/applications/<aid>/delete answers (the dialog without JS)."""
    name = next((n for a, n, _, _ in APPS if a == aid), None)
    if name is None:
        return None
    return {"template": "confirm.html", "context": {
        "title": DELETE_APP["title"], "site": PORTAL, "csrf_token": CSRF, "footer_links": FOOTER,
        "confirm": {**DELETE_APP, "subject": name, "action": f"/demo/account/applications/{aid}/delete", "cancel_href": "/demo/account"}}}


def confirm_reject(did: str) -> dict | None:
    """The page GET .../developers/confirm?reject=<id> answers (the dialog without JS)."""
    row = next((r for r in requested_developers() if r["id"] == did), None)
    if row is None:
        return None
    dialog = console()["context"]["reject_dialog"]
    return {"template": "confirm.html", "context": {
        "title": dialog["title"], "site": CONSOLE, "csrf_token": CSRF,
        "confirm": {**dialog, "subject": row["cells"]["name"], "fields": {"reject": did}, "cancel_href": CONSOLE_BASE}}}


def pages() -> dict[str, dict]:
    """Every demo page by name: {"template", "context"}."""
    return {"register": register(False), "register-errors": register(True), "login": login(), "console": console(),
            "account": account(), "confirm": confirm_delete_app("a1")}
