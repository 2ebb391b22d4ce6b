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
}

impl MailKind {
    pub const ALL: [MailKind; 3] = [
        Self::AccessRequest,
        Self::Approved,
        Self::RegistrationAttempted,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::AccessRequest => "access_request",
            Self::Approved => "approved",
            Self::RegistrationAttempted => "registration_attempted",
            Self::Invite => "invite",
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
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    env
}

/// Renders subject, text and HTML for `kind`. Values are HTML-escaped in the HTML part only.
pub fn render(kind: MailKind, ctx: &MailContext) -> Result<RenderedMail, minijinja::Error> {
    let (subject, text, html) = kind.templates();
    let env = environment();
    let value = context! { ..minijinja::Value::from_serialize(ctx) };
    let one_line = |s: String| s.replace(['\r', '\n'], " ");
    Ok(RenderedMail {
        subject: one_line(
            env.template_from_named_str("subject.txt", subject)?
                .render(&value)?,
        ),
        text: env
            .template_from_named_str("body.txt", text)?
            .render(&value)?,
        html: env
            .template_from_named_str("body.html", html)?
            .render(&value)?,
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
            let m = render(kind, &ctx()).unwrap();
            assert!(
                !m.subject.is_empty() && !m.text.is_empty() && m.html.contains("<p>"),
                "{kind:?}"
            );
            assert!(
                m.text.contains("Acme APIs") && m.html.contains("Acme APIs"),
                "{kind:?}"
            );
        }
    }

    #[test]
    fn user_text_is_escaped_in_html_but_not_in_plain_text() {
        let m = render(MailKind::Approved, &ctx()).unwrap();
        assert!(
            m.html
                .contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;")
                || m.html.contains("&lt;script&gt;"),
            "{}",
            m.html
        );
        assert!(!m.html.contains("<script>"));
        assert!(m.text.contains("<script>alert(1)</script>"));
    }

    #[test]
    fn a_subject_never_carries_a_line_break() {
        let mut c = ctx();
        c.developer_name = "Jane\r\nBcc: victim@example.com".into();
        let m = render(MailKind::AccessRequest, &c).unwrap();
        assert!(!m.subject.contains('\n') && !m.subject.contains('\r'));
    }

    #[test]
    fn links_are_left_out_when_the_portal_has_no_url() {
        let mut c = ctx();
        c.portal_url = None;
        c.login_url = None;
        let m = render(MailKind::Approved, &c).unwrap();
        assert!(!m.text.contains("http"));
    }
}
