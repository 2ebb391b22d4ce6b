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

/// Rendering budget of one template part: minijinja instructions ("fuel"). The defaults use a
/// few hundred; a loop nested to multiply its iterations runs out long before it costs time.
pub const RENDER_FUEL: u64 = 20_000;
/// Largest rendered part, in bytes (SES accepts 40 MB per message; mail this size is abuse).
pub const MAX_RENDERED_BYTES: usize = 128 * 1024;

/// The filters a template may use: none of them can grow a value more than linearly
/// (`replace`, `join`, `indent`, `format`, `batch` and friends could, so they are left out, and
/// `safe` would switch HTML escaping off for user values).
const FILTERS: [&str; 14] =
    ["upper", "lower", "title", "capitalize", "trim", "default", "d", "escape", "e", "length", "count", "first", "last", "string"];
/// The tests a template may use (`{% if developer_username is defined %}`).
const TESTS: [&str; 8] = ["defined", "undefined", "none", "string", "startingwith", "endingwith", "eq", "ne"];

/// An environment with only the allowed filters and tests, no functions or globals, strict
/// undefined behaviour, HTML escaping for `.html` parts, and the rendering budget.
fn environment() -> Environment<'static> {
    use minijinja::{filters, tests};
    let mut env = Environment::empty();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|name| if name.ends_with(".html") { AutoEscape::Html } else { AutoEscape::None });
    env.set_fuel(Some(RENDER_FUEL));
    env.add_filter("upper", filters::upper);
    env.add_filter("lower", filters::lower);
    env.add_filter("title", filters::title);
    env.add_filter("capitalize", filters::capitalize);
    env.add_filter("trim", filters::trim);
    env.add_filter("default", filters::default);
    env.add_filter("d", filters::default);
    env.add_filter("escape", filters::escape);
    env.add_filter("e", filters::escape);
    env.add_filter("length", filters::length);
    env.add_filter("count", filters::length);
    env.add_filter("first", filters::first);
    env.add_filter("last", filters::last);
    env.add_filter("string", filters::string);
    env.add_test("defined", tests::is_defined);
    env.add_test("undefined", tests::is_undefined);
    env.add_test("none", tests::is_none);
    env.add_test("string", tests::is_string);
    env.add_test("startingwith", tests::is_startingwith);
    env.add_test("endingwith", tests::is_endingwith);
    env.add_test("eq", tests::is_eq);
    env.add_test("ne", tests::is_ne);
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

const NOT_AVAILABLE: &str = "(email templates have no include, import, from, extends, block, macro or call; write each part out in full)";

/// The language of an override: output, `if`, non-recursive `for`, and expressions without
/// calls, `*` or `**` (string repetition), through the allowed filters and tests. Assignments
/// (`set`, `with`), captures (`filter` blocks) and `autoescape` are refused too: with them a
/// handful of statements doubles a value into gigabytes, which no step budget would notice.
/// Includes, imports, extends, blocks, macros and `call` are not even compiled in.
pub fn check_policy(source: &str, name: &str) -> Result<(), String> {
    use minijinja::machinery::{self, ast};
    let tree = machinery::parse(source, name, Default::default(), Default::default()).map_err(|e| {
        let detail = e.detail().unwrap_or_default();
        match detail.strip_prefix("unknown statement ") {
            Some(stmt @ ("include" | "import" | "from" | "extends" | "block" | "macro" | "call")) => {
                format!("may not use {stmt} {NOT_AVAILABLE}")
            }
            _ => format!("is not a valid template: {e}"),
        }
    })?;
    fn stmts(list: &[ast::Stmt<'_>]) -> Result<(), String> {
        list.iter().try_for_each(stmt)
    }
    fn stmt(s: &ast::Stmt<'_>) -> Result<(), String> {
        match s {
            ast::Stmt::Template(t) => stmts(&t.children),
            ast::Stmt::EmitExpr(e) => expr(&e.expr),
            ast::Stmt::EmitRaw(_) => Ok(()),
            ast::Stmt::IfCond(c) => {
                expr(&c.expr)?;
                stmts(&c.true_body)?;
                stmts(&c.false_body)
            }
            ast::Stmt::ForLoop(l) if l.recursive => Err("may not use recursive loops".into()),
            ast::Stmt::ForLoop(l) => {
                expr(&l.target)?;
                expr(&l.iter)?;
                l.filter_expr.as_ref().map_or(Ok(()), expr)?;
                stmts(&l.body)?;
                stmts(&l.else_body)
            }
            ast::Stmt::Set(_) | ast::Stmt::SetBlock(_) => Err("may not use set (assignments are not available)".into()),
            ast::Stmt::WithBlock(_) => Err("may not use with (assignments are not available)".into()),
            ast::Stmt::FilterBlock(_) => Err("may not use filter blocks (apply a filter to a value instead)".into()),
            ast::Stmt::AutoEscape(_) => Err("may not use autoescape (values in HTML are always escaped)".into()),
            ast::Stmt::Do(_) => Err("may not use do (calls are not available)".into()),
            // Only reachable when another crate of the build enables minijinja's `macros` or
            // `multi_template` (features unify), or a later minijinja adds statements.
            #[allow(unreachable_patterns)]
            _ => Err(format!("uses a statement that is not available {NOT_AVAILABLE}")),
        }
    }
    fn args(list: &[ast::CallArg<'_>]) -> Result<(), String> {
        list.iter().try_for_each(|a| match a {
            ast::CallArg::Pos(e) | ast::CallArg::Kwarg(_, e) => expr(e),
            ast::CallArg::PosSplat(_) | ast::CallArg::KwargSplat(_) => Err("may not use argument splats".into()),
        })
    }
    fn expr(e: &ast::Expr<'_>) -> Result<(), String> {
        match e {
            ast::Expr::Var(_) | ast::Expr::Const(_) => Ok(()),
            ast::Expr::UnaryOp(u) => expr(&u.expr),
            ast::Expr::BinOp(b) => match b.op {
                ast::BinOpKind::Mul | ast::BinOpKind::Pow => Err("may not use * or ** (values cannot be repeated)".into()),
                _ => {
                    expr(&b.left)?;
                    expr(&b.right)
                }
            },
            ast::Expr::Compare(c) => {
                expr(&c.expr)?;
                c.ops.iter().try_for_each(|op| expr(&op.expr))
            }
            ast::Expr::IfExpr(i) => {
                expr(&i.test_expr)?;
                expr(&i.true_expr)?;
                i.false_expr.as_ref().map_or(Ok(()), expr)
            }
            ast::Expr::Filter(f) if !FILTERS.contains(&f.name) => {
                Err(format!("uses the filter {} (available: {})", f.name, FILTERS.join(", ")))
            }
            ast::Expr::Filter(f) => {
                f.expr.as_ref().map_or(Ok(()), expr)?;
                args(&f.args)
            }
            ast::Expr::Test(t) if !TESTS.contains(&t.name) => Err(format!("uses the test {} (available: {})", t.name, TESTS.join(", "))),
            ast::Expr::Test(t) => {
                expr(&t.expr)?;
                args(&t.args)
            }
            ast::Expr::GetAttr(g) => expr(&g.expr),
            ast::Expr::GetItem(g) => {
                expr(&g.expr)?;
                expr(&g.subscript_expr)
            }
            ast::Expr::Slice(s) => {
                expr(&s.expr)?;
                [&s.start, &s.stop, &s.step].into_iter().flatten().try_for_each(expr)
            }
            ast::Expr::List(l) => l.items.iter().try_for_each(expr),
            ast::Expr::Map(m) => m.keys.iter().chain(m.values.iter()).try_for_each(expr),
            ast::Expr::Call(_) => Err("may not call functions or methods".into()),
        }
    }
    stmt(&tree)
}

/// Why a mail could not be rendered. Always permanent: the same template and values fail the
/// same way on every retry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the {part} template {reason}")]
pub struct RenderError {
    pub part: &'static str,
    pub reason: String,
}

/// Collects rendered output up to [`MAX_RENDERED_BYTES`], then refuses more.
struct Capped {
    out: Vec<u8>,
    overflowed: bool,
}

impl std::io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.out.len() + buf.len() > MAX_RENDERED_BYTES {
            self.overflowed = true;
            return Err(std::io::Error::other("output cap reached"));
        }
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Renders one part within the budget; an override is held to [`check_policy`] first (also
/// one stored before the policy existed).
fn render_part(
    env: &Environment<'static>,
    part: &'static str,
    name: &str,
    source: &str,
    custom: bool,
    value: &minijinja::Value,
) -> Result<String, RenderError> {
    let fail = |reason: String| RenderError { part, reason };
    if custom {
        check_policy(source, name).map_err(fail)?;
    }
    let template = env.template_from_named_str(name, source).map_err(|e| fail(format!("is not a valid template: {e}")))?;
    let mut out = Capped { out: Vec::new(), overflowed: false };
    match template.render_captured_to(value, &mut out) {
        Ok(_) => String::from_utf8(out.out).map_err(|_| fail("rendered invalid UTF-8".into())),
        Err(_) if out.overflowed => Err(fail(format!("renders more than {MAX_RENDERED_BYTES} bytes"))),
        Err(e) if e.kind() == minijinja::ErrorKind::OutOfFuel => Err(fail(format!("exceeds the rendering budget ({RENDER_FUEL} steps)"))),
        Err(e) => Err(fail(format!("failed to render: {e}"))),
    }
}

/// The largest values a mail can carry, for the trial render on save.
fn worst_case_context() -> MailContext {
    let url = format!("https://{}.example.com", "p".repeat(60));
    MailContext {
        portal_name: "P".repeat(100),
        login_url: Some(format!("{url}/login")),
        link_url: Some(format!("{url}/invite?token=ghi_{}.{}", "0".repeat(32), "x".repeat(43))),
        portal_url: Some(url),
        expires_at: Some("2030-12-31 23:59 UTC".into()),
        developer_name: "N".repeat(100),
        developer_email: format!("{}@{}.example.com", "e".repeat(64), "d".repeat(60)),
        developer_username: Some("u".repeat(32)),
    }
}

/// Checks an override when it is saved: each part must be short enough, stay within the
/// template language of [`check_policy`], use only known placeholders, and render within the
/// budget with the largest values a mail can carry. Returns (part, message) for every problem.
pub fn validate_override(o: &TemplateOverride) -> Vec<(&'static str, String)> {
    let env = environment();
    let sample = minijinja::Value::from_serialize(worst_case_context());
    let mut problems = Vec::new();
    for (part, name, source) in [("subject", "subject.txt", &o.subject), ("text", "body.txt", &o.text), ("html", "body.html", &o.html)] {
        let Some(source) = source else { continue };
        if source.chars().count() > MAX_TEMPLATE_CHARS {
            problems.push((part, format!("must be at most {MAX_TEMPLATE_CHARS} characters")));
            continue;
        }
        if let Err(m) = check_policy(source, name) {
            problems.push((part, m));
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
                    continue;
                }
            }
            Err(e) => {
                problems.push((part, format!("is not a valid template: {e}")));
                continue;
            }
        }
        if let Err(e) = render_part(&env, part, name, source, true, &sample) {
            problems.push((part, e.reason));
        }
    }
    problems
}

/// Renders subject, text and HTML for `kind`, with the portal's override where it has one.
/// Values are HTML-escaped in the HTML part only; the subject is kept to one line. Every part
/// is rendered within [`RENDER_FUEL`] and [`MAX_RENDERED_BYTES`].
pub fn render(kind: MailKind, ctx: &MailContext, custom: Option<&TemplateOverride>) -> Result<RenderedMail, RenderError> {
    let (subject, text, html) = kind.templates();
    let env = environment();
    let value = context! { ..minijinja::Value::from_serialize(ctx) };
    let part = |part: &'static str, name: &str, o: Option<&String>, default: &'static str| match o {
        Some(source) => render_part(&env, part, name, source, true, &value),
        None => render_part(&env, part, name, default, false, &value),
    };
    Ok(RenderedMail {
        subject: part("subject", "subject.txt", custom.and_then(|c| c.subject.as_ref()), subject)?.replace(['\r', '\n'], " "),
        text: part("text", "body.txt", custom.and_then(|c| c.text.as_ref()), text)?,
        html: part("html", "body.html", custom.and_then(|c| c.html.as_ref()), html)?,
    })
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
            let (subject, text, html) = kind.templates();
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
