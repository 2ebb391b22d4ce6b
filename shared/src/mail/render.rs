//! Rendering within bounds: the environment (allowed filters and tests, strict undefined,
//! HTML escaping, the step budget), the output cap, and the rendering of a mail's parts.

use minijinja::{context, AutoEscape, Environment};

use super::defaults::default_templates;
use super::policy::check_policy;
use super::{MailContext, MailKind, RenderedMail, TemplateOverride};

/// Rendering budget of one template part: minijinja instructions ("fuel"). The defaults use a
/// few hundred; a loop nested to multiply its iterations runs out long before it costs time.
pub const RENDER_FUEL: u64 = 20_000;
/// Largest rendered part, in bytes (SES accepts 40 MB per message; mail this size is abuse).
pub const MAX_RENDERED_BYTES: usize = 128 * 1024;

/// The filters a template may use: none of them can grow a value more than linearly
/// (`replace`, `join`, `indent`, `format`, `batch` and friends could, so they are left out, and
/// `safe` would switch HTML escaping off for user values).
pub(super) const FILTERS: [&str; 14] =
    ["upper", "lower", "title", "capitalize", "trim", "default", "d", "escape", "e", "length", "count", "first", "last", "string"];
/// The tests a template may use (`{% if developer_username is defined %}`).
pub(super) const TESTS: [&str; 8] = ["defined", "undefined", "none", "string", "startingwith", "endingwith", "eq", "ne"];

/// An environment with only the allowed filters and tests, no functions or globals, strict
/// undefined behaviour, HTML escaping for `.html` parts, and the rendering budget.
pub(super) fn environment() -> Environment<'static> {
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
pub(super) fn render_part(
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

/// Renders subject, text and HTML for `kind`, with the portal's override where it has one.
/// Values are HTML-escaped in the HTML part only; the subject is kept to one line. Every part
/// is rendered within [`RENDER_FUEL`] and [`MAX_RENDERED_BYTES`].
pub fn render(kind: MailKind, ctx: &MailContext, custom: Option<&TemplateOverride>) -> Result<RenderedMail, RenderError> {
    let (subject, text, html) = default_templates(kind);
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
