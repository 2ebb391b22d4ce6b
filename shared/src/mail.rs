//! Email: what each lifecycle event sends, rendered with minijinja (HTML auto-escaped), and
//! the port through which it leaves.

use std::future::Future;

use minijinja::{context, AutoEscape, Environment};
use serde::Serialize;

use crate::error::BoxError;

/// The emails Gatehouse sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MailKind {
    /// To the portal's admins: a developer asks for access.
    AccessRequest,
    /// To the developer: access approved (by an admin or automatically).
    Approved,
    /// To an existing owner: someone tried to register with this address.
    RegistrationAttempted,
    /// To an invitee: a registration link.
    Invite,
    /// To a developer: a password reset link.
    Reset,
    /// To a developer: the password was reset.
    ResetSuccess,
    /// To a self-registered developer: confirm the address.
    Verification,
    /// To a developer: the password was changed through `/me/password`.
    PasswordChanged,
}

impl MailKind {
    pub const ALL: [MailKind; 8] = [
        Self::AccessRequest,
        Self::Approved,
        Self::RegistrationAttempted,
        Self::Invite,
        Self::Reset,
        Self::ResetSuccess,
        Self::Verification,
        Self::PasswordChanged,
    ];

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::AccessRequest => "access_request",
            Self::Approved => "approved",
            Self::RegistrationAttempted => "registration_attempted",
            Self::Invite => "invite",
            Self::Reset => "reset",
            Self::ResetSuccess => "reset_success",
            Self::Verification => "verification",
            Self::PasswordChanged => "password_changed",
        }
    }

    fn templates(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::AccessRequest => (
                "[{{ portal_name }}] {{ developer_name }} requests access",
                "{{ developer_name }} <{{ developer_email }}> registered on {{ portal_name }} and is waiting for approval.\n\nReview the request in the admin console{% if portal_url %}: {{ portal_url }}{% endif %}.\n",
                "<p><strong>{{ developer_name }}</strong> &lt;{{ developer_email }}&gt; registered on {{ portal_name }} and is waiting for approval.</p>\n<p>Review the request in the admin console{% if portal_url %}: <a href=\"{{ portal_url }}\">{{ portal_url }}</a>{% endif %}.</p>\n",
            ),
            Self::Approved => (
                "Your access to {{ portal_name }} is approved",
                "Hello {{ developer_name }},\n\nyour account on {{ portal_name }} has been approved. You can now sign in{% if login_url %} at {{ login_url }}{% endif %} and create applications and credentials.\n",
                "<p>Hello {{ developer_name }},</p>\n<p>your account on {{ portal_name }} has been approved. You can now sign in{% if login_url %} at <a href=\"{{ login_url }}\">{{ login_url }}</a>{% endif %} and create applications and credentials.</p>\n",
            ),
            Self::RegistrationAttempted => (
                "Someone tried to register on {{ portal_name }} with your address",
                "Hello,\n\nsomeone just tried to create an account on {{ portal_name }} with this email address, which already has an account. If it was you, sign in{% if login_url %} at {{ login_url }}{% endif %} or reset your password. If it was not, you can ignore this message: nothing was changed.\n",
                "<p>Hello,</p>\n<p>someone just tried to create an account on {{ portal_name }} with this email address, which already has an account. If it was you, sign in{% if login_url %} at <a href=\"{{ login_url }}\">{{ login_url }}</a>{% endif %} or reset your password. If it was not, you can ignore this message: nothing was changed.</p>\n",
            ),
            Self::Invite => (
                "You are invited to {{ portal_name }}",
                "Hello,\n\nyou are invited to create a developer account on {{ portal_name }}. Accept the invitation here:\n\n{{ link_url }}\n\n{% if expires_at %}The link works once and expires on {{ expires_at }}.{% else %}The link works once.{% endif %} If you were not expecting it, ignore this message.\n",
                "<p>Hello,</p>\n<p>you are invited to create a developer account on {{ portal_name }}.</p>\n<p><a href=\"{{ link_url }}\">Accept the invitation</a></p>\n<p>{% if expires_at %}The link works once and expires on {{ expires_at }}.{% else %}The link works once.{% endif %} If you were not expecting it, ignore this message.</p>\n",
            ),
            Self::Reset => (
                "Reset your password on {{ portal_name }}",
                "Hello {{ developer_name }},\n\nsomeone asked to reset the password of your account on {{ portal_name }}. Choose a new password here:\n\n{{ link_url }}\n\n{% if expires_at %}The link works once and expires on {{ expires_at }}.{% else %}The link works once.{% endif %} If you did not ask for this, ignore this message: your password stays as it is.\n",
                "<p>Hello {{ developer_name }},</p>\n<p>someone asked to reset the password of your account on {{ portal_name }}.</p>\n<p><a href=\"{{ link_url }}\">Choose a new password</a></p>\n<p>{% if expires_at %}The link works once and expires on {{ expires_at }}.{% else %}The link works once.{% endif %} If you did not ask for this, ignore this message: your password stays as it is.</p>\n",
            ),
            Self::ResetSuccess => (
                "Your password on {{ portal_name }} was changed",
                "Hello {{ developer_name }},\n\nthe password of your account on {{ portal_name }} was just reset, and every session was signed out. If this was not you, contact the portal's administrators at once.\n",
                "<p>Hello {{ developer_name }},</p>\n<p>the password of your account on {{ portal_name }} was just reset, and every session was signed out. If this was not you, contact the portal's administrators at once.</p>\n",
            ),
            Self::Verification => (
                "Confirm your email address for {{ portal_name }}",
                "Hello {{ developer_name }},\n\nthanks for registering on {{ portal_name }}. The next step is to confirm that this is your email address:\n\n{{ link_url }}\n\nYou can sign in only once the address is confirmed (and, where the portal reviews new accounts, approved).{% if expires_at %} The link expires on {{ expires_at }}.{% endif %} If you did not register, ignore this message.\n",
                "<p>Hello {{ developer_name }},</p>\n<p>thanks for registering on {{ portal_name }}. The next step is to confirm that this is your email address:</p>\n<p><a href=\"{{ link_url }}\">Confirm my address</a></p>\n<p>You can sign in only once the address is confirmed (and, where the portal reviews new accounts, approved).{% if expires_at %} The link expires on {{ expires_at }}.{% endif %} If you did not register, ignore this message.</p>\n",
            ),
            Self::PasswordChanged => (
                "Your password on {{ portal_name }} has been changed",
                "Hello {{ developer_name }},\n\nthe password of your account on {{ portal_name }} has just been changed from your account, and your other sessions were signed out. If this was not you, reset your password{% if login_url %} at {{ login_url }}{% endif %} and contact the portal's administrators at once.\n",
                "<p>Hello {{ developer_name }},</p>\n<p>the password of your account on {{ portal_name }} has just been changed from your account, and your other sessions were signed out. If this was not you, reset your password{% if login_url %} at <a href=\"{{ login_url }}\">{{ login_url }}</a>{% endif %} and contact the portal's administrators at once.</p>\n",
            ),
        }
    }
}

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
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedMail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|name| if name.ends_with(".html") { AutoEscape::Html } else { AutoEscape::None });
    env
}

/// A portal's replacement for some parts of one email. Missing parts keep the default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
}

/// The placeholders every template may use.
pub const PLACEHOLDERS: [&str; 8] =
    ["portal_name", "portal_url", "login_url", "link_url", "expires_at", "developer_name", "developer_email", "developer_username"];

const MAX_TEMPLATE_CHARS: usize = 20_000;

/// Checks an override when it is saved: each part must compile and use only known
/// placeholders. Returns (part, message) for every problem.
pub fn validate_override(o: &TemplateOverride) -> Vec<(&'static str, String)> {
    let env = environment();
    let mut problems = Vec::new();
    for (part, name, source) in [("subject", "subject.txt", &o.subject), ("text", "body.txt", &o.text), ("html", "body.html", &o.html)] {
        let Some(source) = source else { continue };
        if source.chars().count() > MAX_TEMPLATE_CHARS {
            problems.push((part, format!("must be at most {MAX_TEMPLATE_CHARS} characters")));
            continue;
        }
        match env.template_from_named_str(name, source) {
            Ok(t) => {
                let mut unknown: Vec<String> =
                    t.undeclared_variables(false).into_iter().filter(|v| !PLACEHOLDERS.contains(&v.as_str())).collect();
                unknown.sort();
                if !unknown.is_empty() {
                    problems
                        .push((part, format!("uses unknown placeholders: {} (known: {})", unknown.join(", "), PLACEHOLDERS.join(", "))));
                }
            }
            Err(e) => problems.push((part, format!("is not a valid template: {e}"))),
        }
    }
    problems
}

/// Renders subject, text and HTML for `kind`, with the portal's override where it has one.
/// Values are HTML-escaped in the HTML part only; the subject is kept to one line.
pub fn render(kind: MailKind, ctx: &MailContext, custom: Option<&TemplateOverride>) -> Result<RenderedMail, minijinja::Error> {
    let (subject, text, html) = kind.templates();
    let pick = |o: Option<&String>, default: &'static str| o.map(String::as_str).unwrap_or(default).to_string();
    let (subject, text, html) = (
        pick(custom.and_then(|c| c.subject.as_ref()), subject),
        pick(custom.and_then(|c| c.text.as_ref()), text),
        pick(custom.and_then(|c| c.html.as_ref()), html),
    );
    let env = environment();
    let value = context! { ..minijinja::Value::from_serialize(ctx) };
    let one_line = |s: String| s.replace(['\r', '\n'], " ");
    Ok(RenderedMail {
        subject: one_line(env.template_from_named_str("subject.txt", &subject)?.render(&value)?),
        text: env.template_from_named_str("body.txt", &text)?.render(&value)?,
        html: env.template_from_named_str("body.html", &html)?.render(&value)?,
    })
}

/// An email ready to send.
#[derive(Debug, Clone)]
pub struct OutgoingMail {
    pub from: String,
    pub to: Vec<String>,
    pub content: RenderedMail,
}

/// The port through which mail leaves (SES v2 in production and against the emulator).
pub trait Mailer: Send + Sync {
    /// Sends one email; returns the provider's message id.
    fn send(&self, mail: &OutgoingMail) -> impl Future<Output = Result<String, BoxError>> + Send;
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
            let (subject, text, html) = kind.templates();
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
