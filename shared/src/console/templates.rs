//! Email templates (from the Settings tab): per mail, its subject, text and HTML overrides,
//! saved through the settings PATCH's use case and previewed by `mail::preview` with sample
//! data. The preview is a document of its own, posted into a sandboxed frame of the editor (the
//! Preview button's `formtarget`), so it works without JavaScript; `gatehouse.js` re-posts it a
//! moment after each edit (`data-gh-live-preview`).

use serde_json::json;

use super::views::templates as tv;
use super::{portal_base, Console, ConsoleStore};
use crate::config::Config;
use crate::domain::{MailKind, Portal, Timestamp};
use crate::error::AppError;
use crate::pages::web::Form;
use crate::pages::PageResponse;

fn kind_of(name: &str) -> Option<MailKind> {
    MailKind::from_name(name)
}

/// `GET .../templates`: every mail and whether this portal overrides it.
pub(super) fn templates_page(mut c: Console<'_>, portal: &Portal) -> PageResponse {
    let mut ctx = c.context("Email templates", vec![]);
    ctx.insert("portal_name".into(), portal.name.clone().into());
    ctx.insert("s".into(), tv::templates_list(&portal_base(portal), portal));
    c.html(200, "console/templates.html", ctx)
}

/// `GET .../templates/<mail>` (and a failed save): the editor.
pub(super) fn template_page(
    mut c: Console<'_>,
    portal: &Portal,
    name: &str,
    posted: Option<&Form>,
    error: Option<(u16, &AppError)>,
) -> PageResponse {
    let Some(kind) = kind_of(name) else { return super::not_found(c) };
    let (field_errors, errors) = match error {
        Some((_, e)) => tv::template_errors(e, name),
        None => (vec![], vec![]),
    };
    let s = tv::template_editor(
        &portal_base(portal),
        kind,
        portal.settings.email_templates.get(name),
        crate::mail::default_parts(kind),
        posted,
        &field_errors,
    );
    let title = format!("Email template: {}", tv::mail_label(kind));
    let mut ctx = c.context(&title, errors);
    ctx.insert("portal_name".into(), portal.name.clone().into());
    ctx.insert("s".into(), s);
    let mut r = c.html(error.map_or(200, |(status, _)| status), "console/template.html", ctx);
    // This page alone frames a page: its own preview document.
    for (k, v) in r.headers.iter_mut() {
        if *k == "Content-Security-Policy" {
            *v = v.replacen("default-src 'none'", "default-src 'none'; frame-src 'self'", 1);
        }
    }
    r
}

/// `POST .../templates/<mail>`: Save template (the draft) or Use the default (removes the
/// override), through `PATCH /api/portals/{id}`'s use case.
pub(super) async fn template_post<S: ConsoleStore>(
    store: &S,
    config: &Config,
    c: Console<'_>,
    portal: &Portal,
    name: &str,
    form: &Form,
    now: Timestamp,
) -> PageResponse {
    if kind_of(name).is_none() {
        return super::not_found(c);
    }
    let reset = form.get("action") == "reset";
    let value = if reset { serde_json::Value::Null } else { json!(tv::draft(form)) };
    let token = c.token().clone();
    let outcome = match serde_json::from_value::<crate::portals::PortalPatch>(json!({ "settings": { "email_templates": { name: value } } }))
    {
        Ok(patch) => crate::portals::patch_portal(store, config, &token, portal.id, patch, now).await.map(|_| ()),
        Err(e) => Err(AppError::field("settings.email_templates", e.to_string())),
    };
    match outcome {
        Ok(()) => {
            let back = format!("{}/{name}", tv::templates_url(&portal_base(portal)));
            c.redirect(&back, Some(if reset { "template_reset" } else { "template_saved" }))
        }
        Err(e) => {
            let status = crate::http::status_of(&e);
            if status >= 500 {
                return c.error_page(&e);
            }
            template_page(c, portal, name, Some(form), Some((status, &e)))
        }
    }
}

/// `POST .../templates/<mail>/preview` (`GET`: the saved template, `draft` `None`): the draft rendered with sample data, as a document for
/// the editor's frame: the subject, the plain text, and the HTML in a frame of its own, sandboxed
/// (no scripts, no forms, its own origin), under a CSP that loads nothing. Errors are listed with
/// the part they are in.
pub(super) fn preview(mut c: Console<'_>, portal: &Portal, name: &str, form: Option<&Form>) -> PageResponse {
    if kind_of(name).is_none() {
        return super::not_found(c);
    }
    let draft = form.map(tv::draft);
    let links = portal.settings.portal_url.as_deref();
    let (status, view) = match crate::mail::preview(name, portal, draft.as_ref(), links) {
        Ok(m) => (200, json!({ "subject": m.subject, "text": m.text, "html": m.html })),
        Err(e) => {
            let status = crate::http::status_of(&e);
            if status >= 500 {
                return c.error_page(&e);
            }
            let (by_field, _) = tv::template_errors(&e, name);
            (200, json!({ "errors": by_field.iter().map(|(part, m)| json!({ "part": part, "message": m })).collect::<Vec<_>>() }))
        }
    };
    let mut ctx = c.context("Preview", vec![]);
    ctx.insert("p".into(), view);
    let mut r = c.html(status, "console/template_preview.html", ctx);
    for (k, v) in r.headers.iter_mut() {
        match *k {
            "Content-Security-Policy" => *v = PREVIEW_CSP.into(),
            "X-Frame-Options" => *v = "SAMEORIGIN".into(),
            _ => {}
        }
    }
    r
}

/// The preview document's policy: framed only by the console itself, styles of its own and of
/// the mail, nothing fetched, no scripts.
const PREVIEW_CSP: &str =
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' https: data:; frame-src 'self'; form-action 'none'; frame-ancestors 'self'; base-uri 'none'; sandbox allow-same-origin";

#[cfg(test)]
mod tests {
    use super::*;

    fn render(p: serde_json::Value) -> String {
        crate::pages::render::render("console/template_preview.html", &minijinja::Value::from_serialize(json!({ "p": p }))).unwrap()
    }

    #[test]
    fn the_preview_document_shows_the_subject_and_text_and_frames_the_html_escaped_in_a_sandbox() {
        let html = render(json!({ "subject": "Welcome, Ada", "text": "Hello <Ada>", "html": "<p onclick=\"x()\">Hi & bye</p>" }));
        assert!(html.contains("Welcome, Ada") && html.contains("Hello &lt;Ada&gt;"));
        assert!(
            html.contains(
                "<iframe title=\"HTML part of the email\" sandbox srcdoc=\"&lt;p onclick=&quot;x()&quot;&gt;Hi &amp; bye&lt;&#x2f;p&gt;\">"
            ),
            "{html}"
        );
        assert!(!html.contains("<script"), "no script of any kind in the preview");
        let bad = render(json!({ "errors": [{ "part": "subject", "message": "uses an unknown placeholder" }] }));
        assert!(bad.contains("This template cannot be sent") && bad.contains("Subject: uses an unknown placeholder"));
    }

    #[test]
    fn the_preview_frames_only_in_the_console_and_runs_nothing() {
        for part in ["sandbox", "frame-ancestors 'self'", "default-src 'none'", "form-action 'none'"] {
            assert!(PREVIEW_CSP.contains(part), "{part}");
        }
        assert!(!PREVIEW_CSP.contains("script-src"), "scripts fall to default-src 'none'");
    }
}
