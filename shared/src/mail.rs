//! Email: what each lifecycle event sends, rendered with minijinja (HTML auto-escaped), and
//! the port through which it leaves. The built-in templates are in `defaults`, rendering
//! within bounds in `render`, and the override policy in `policy`.

use std::future::Future;

use serde::Serialize;

pub use crate::domain::{MailKind, TemplateOverride};
use crate::error::BoxError;

mod defaults;
mod policy;
mod preview;
mod render;

#[cfg(test)]
use defaults::default_templates;
#[cfg(test)]
use policy::worst_case_context;
pub use policy::{check_policy, validate_override, PLACEHOLDERS};
pub use preview::{default_parts, preview, sample_context, template_field};
#[cfg(test)]
use render::{environment, render_part};
pub use render::{render, RenderError, MAX_RENDERED_BYTES, RENDER_FUEL};

/// The values a template may use.
#[derive(Debug, Clone, Serialize, Default)]
pub struct MailContext {
    pub portal_name: String,
    pub portal_url: Option<String>,
    pub login_url: Option<String>,
    /// The action link (with its `token` query parameter) of invite, reset and verification mail.
    pub link_url: Option<String>,
    pub expires_at: Option<String>,
    pub developer_name: String,
    pub developer_email: String,
    pub developer_username: Option<String>,
    /// The endpoint of a webhook notification, and since when it failed.
    pub webhook_url: Option<String>,
    pub failing_since: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedMail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// An email ready to send.
#[derive(Debug, Clone)]
pub struct OutgoingMail {
    pub from: String,
    pub to: Vec<String>,
    pub content: RenderedMail,
}

/// Why a send failed, as far as retrying is concerned.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The provider refused this message or address for good (SES `MessageRejected`,
    /// `BadRequestException`, ...): the same send would fail the same way every time.
    #[error("the mail provider refused the message: {0}")]
    Permanent(String),
    /// Throttling, 5xx, timeouts, connection errors: worth retrying.
    #[error(transparent)]
    Transient(BoxError),
}

/// The port through which mail leaves (SES v2 in production and against the emulator).
pub trait Mailer: Send + Sync {
    /// Sends one email; returns the provider's message id.
    fn send(&self, mail: &OutgoingMail) -> impl Future<Output = Result<String, SendError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> MailContext {
        MailContext {
            portal_name: "Acme APIs".into(),
            portal_url: Some("https://portal.acme.com".into()),
            login_url: Some("https://portal.acme.com/login".into()),
            link_url: Some("https://portal.acme.com/invite?token=ghi_abc.def".into()),
            expires_at: None,
            developer_name: "<script>alert(1)</script>".into(),
            developer_email: "jane@acme.com".into(),
            developer_username: None,
            webhook_url: None,
            failing_since: None,
        }
    }

    #[test]
    fn every_mail_renders_a_subject_a_text_and_an_html_part() {
        for kind in MailKind::ALL {
            let m = render(kind, &ctx(), None).unwrap();
            assert!(!m.subject.is_empty() && !m.text.is_empty() && m.html.contains("<p>"), "{kind:?}");
            assert!(m.text.contains("Acme APIs") && m.html.contains("Acme APIs"), "{kind:?}");
        }
    }

    #[test]
    fn user_text_is_escaped_in_html_but_not_in_plain_text() {
        let m = render(MailKind::Approved, &ctx(), None).unwrap();
        assert!(m.html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;") || m.html.contains("&lt;script&gt;"), "{}", m.html);
        assert!(!m.html.contains("<script>"));
        assert!(m.text.contains("<script>alert(1)</script>"));
    }

    #[test]
    fn a_subject_never_carries_a_line_break() {
        let mut c = ctx();
        c.developer_name = "Jane\r\nBcc: victim@example.com".into();
        let m = render(MailKind::AccessRequest, &c, None).unwrap();
        assert!(!m.subject.contains('\n') && !m.subject.contains('\r'));
    }

    #[test]
    fn every_default_template_passes_its_own_validation() {
        for kind in MailKind::ALL {
            let (subject, text, html) = default_templates(kind);
            let o = TemplateOverride { subject: Some(subject.into()), text: Some(text.into()), html: Some(html.into()) };
            assert!(validate_override(&o).is_empty(), "{kind:?}");
        }
    }

    #[test]
    fn an_override_with_an_unknown_placeholder_or_bad_syntax_is_refused() {
        let o = TemplateOverride { subject: Some("Hi {{ developer_nmae }}".into()), text: Some("{% if %}".into()), html: None };
        let problems = validate_override(&o);
        assert_eq!(problems.len(), 2);
        assert_eq!(problems[0].0, "subject");
        assert!(problems[0].1.contains("developer_nmae"));
        assert_eq!(problems[1].0, "text");
    }

    #[test]
    fn an_override_replaces_only_its_parts_and_still_escapes_html() {
        let o = TemplateOverride {
            subject: Some("Welcome, {{ developer_name }}!".into()),
            text: None,
            html: Some("<h1>{{ developer_name }}</h1>".into()),
        };
        let m = render(MailKind::Approved, &ctx(), Some(&o)).unwrap();
        assert_eq!(m.subject, "Welcome, <script>alert(1)</script>!");
        assert!(m.html.starts_with("<h1>&lt;script&gt;"), "{}", m.html);
        assert!(m.text.contains("has been approved"), "the default text stays");
    }

    fn text_override(text: &str) -> TemplateOverride {
        TemplateOverride { text: Some(text.into()), ..Default::default() }
    }

    const LOOP_100_TO_THE_FIFTH: &str = "{% for a in developer_name %}{% for b in developer_name %}{% for c in developer_name %}\
         {% for d in developer_name %}{% for e in developer_name %}x{% endfor %}{% endfor %}{% endfor %}{% endfor %}{% endfor %}";

    #[test]
    fn a_stored_override_that_loops_100_to_the_fifth_fails_within_its_budget_instead_of_spinning() {
        let mut c = ctx();
        c.developer_name = "n".repeat(100);
        let started = std::time::Instant::now();
        let err = render(MailKind::Approved, &c, Some(&text_override(LOOP_100_TO_THE_FIFTH))).unwrap_err();
        assert_eq!(err.part, "text");
        assert!(err.reason.contains("budget") || err.reason.contains("bytes"), "{err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "bounded, not 10^10 steps");
    }

    #[test]
    fn an_override_that_exceeds_the_budget_with_the_largest_values_is_refused_when_saved() {
        let problems = validate_override(&text_override(LOOP_100_TO_THE_FIFTH));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].0, "text");
        assert!(problems[0].1.contains("budget") || problems[0].1.contains("bytes"), "{problems:?}");
    }

    #[test]
    fn an_override_whose_output_exceeds_the_cap_fails_with_its_part_named() {
        let big =
            format!("{{% for a in developer_name %}}{{% for b in developer_name %}}{}{{% endfor %}}{{% endfor %}}", "y".repeat(19_000));
        let mut c = ctx();
        c.developer_name = "n".repeat(100);
        let err = render(MailKind::Approved, &c, Some(&TemplateOverride { html: Some(big), ..Default::default() })).unwrap_err();
        assert_eq!(err.part, "html");
        assert!(err.reason.contains(&format!("more than {MAX_RENDERED_BYTES} bytes")), "{err}");
    }

    #[test]
    fn include_import_extends_blocks_macros_and_call_blocks_are_refused_with_a_clear_message() {
        for (source, word) in [
            ("{% include 'approved' %}", "include"),
            ("{% import 'x' as y %}", "import"),
            ("{% from 'x' import y %}", "from"),
            ("{% extends 'base' %}", "extends"),
            ("{% block body %}x{% endblock %}", "block"),
            ("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "macro"),
            ("{% call m() %}x{% endcall %}", "call"),
        ] {
            let problems = validate_override(&text_override(source));
            assert_eq!(problems.len(), 1, "{source}: {problems:?}");
            assert!(problems[0].1.starts_with(&format!("may not use {word} ")), "{source}: {}", problems[0].1);
            assert!(problems[0].1.contains("no include, import, from, extends, block, macro or call"), "{}", problems[0].1);
            // A stored one (saved before the policy) fails at send time, not by recursing.
            assert!(render(MailKind::Approved, &ctx(), Some(&text_override(source))).is_err(), "{source}");
        }
    }

    #[test]
    fn assignments_captures_repetition_calls_and_unsafe_filters_are_refused() {
        for (source, needle) in [
            ("{% set x = developer_name %}{{ x }}", "set"),
            ("{% set x %}{{ developer_name }}{% endset %}{{ x }}", "set"),
            ("{% with x = developer_name ~ developer_name %}{{ x }}{% endwith %}", "with"),
            ("{% filter upper %}{{ developer_name }}{% endfilter %}", "filter blocks"),
            ("{% autoescape false %}{{ developer_name }}{% endautoescape %}", "autoescape"),
            ("{{ developer_name * 100000000 }}", "* or **"),
            ("{{ 2 ** 64 }}", "* or **"),
            ("{% for i in [1] recursive %}{{ loop([i]) }}{% endfor %}", "recursive"),
            ("{{ range(100000) }}", "call"),
            ("{{ developer_name.upper() }}", "call"),
            ("{{ developer_name|replace('n', developer_name) }}", "filter replace"),
            ("{{ developer_name|safe }}", "filter safe"),
            ("{{ developer_name|join(developer_name) }}", "filter join"),
            ("{% if developer_name is sameas portal_name %}x{% endif %}", "test sameas"),
        ] {
            let problems = validate_override(&text_override(source));
            assert_eq!(problems.len(), 1, "{source}: {problems:?}");
            assert!(problems[0].1.contains(needle), "{source}: {}", problems[0].1);
            assert!(render(MailKind::Approved, &ctx(), Some(&text_override(source))).is_err(), "{source}");
        }
    }

    #[test]
    fn the_allowed_language_still_covers_what_mail_templates_need() {
        let o = text_override(
            "{% if developer_username is defined and developer_username %}@{{ developer_username|lower }}{% else %}{{ developer_name|title|trim }}{% endif %} \
             {{ portal_name ~ '!' }} {{ (developer_email|default('-'))[:3] }} {% for c in 'ab' %}{{ loop.index }}{{ c|upper }}{% endfor %}",
        );
        assert_eq!(validate_override(&o), vec![]);
        let m = render(MailKind::Approved, &ctx(), Some(&o)).unwrap();
        assert!(m.text.contains("Acme APIs!") && m.text.contains("jan") && m.text.contains("1A2B"), "{}", m.text);
    }

    #[test]
    fn every_default_template_renders_the_largest_values_well_within_the_budget() {
        let env = {
            let mut env = environment();
            env.set_fuel(Some(RENDER_FUEL / 10));
            env
        };
        let value = minijinja::Value::from_serialize(worst_case_context());
        for kind in MailKind::ALL {
            let (subject, text, html) = default_templates(kind);
            for (part, name, source) in [("subject", "subject.txt", subject), ("text", "body.txt", text), ("html", "body.html", html)] {
                render_part(&env, part, name, source, true, &value).unwrap_or_else(|e| panic!("{kind:?}: {e}"));
            }
        }
    }

    #[test]
    fn the_verification_mail_says_confirming_is_the_next_step_before_signing_in() {
        let m = render(MailKind::Verification, &ctx(), None).unwrap();
        for part in [&m.text, &m.html] {
            assert!(part.contains("next step is to confirm"), "{part}");
            assert!(part.contains("sign in only once the address is confirmed"), "{part}");
        }
    }

    #[test]
    fn links_are_left_out_when_the_portal_has_no_url() {
        let mut c = ctx();
        c.portal_url = None;
        c.login_url = None;
        let m = render(MailKind::Approved, &c, None).unwrap();
        assert!(!m.text.contains("http"));
    }
}
