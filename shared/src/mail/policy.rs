//! The template language portal overrides are held to, and the checks of an override when it
//! is saved.

use super::render::{environment, render_part, FILTERS, TESTS};
use super::{MailContext, TemplateOverride};

/// The placeholders every template may use.
pub const PLACEHOLDERS: [&str; 10] = [
    "portal_name",
    "portal_url",
    "login_url",
    "link_url",
    "expires_at",
    "developer_name",
    "developer_email",
    "developer_username",
    "webhook_url",
    "failing_since",
];

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
            // Compiled in for the pages' templates (multi_template): never for an override.
            ast::Stmt::Include(_) => Err(format!("may not use include {NOT_AVAILABLE}")),
            ast::Stmt::Import(_) => Err(format!("may not use import {NOT_AVAILABLE}")),
            ast::Stmt::FromImport(_) => Err(format!("may not use from {NOT_AVAILABLE}")),
            ast::Stmt::Extends(_) => Err(format!("may not use extends {NOT_AVAILABLE}")),
            ast::Stmt::Block(_) => Err(format!("may not use block {NOT_AVAILABLE}")),
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

/// The largest values a mail can carry, for the trial render on save.
pub(super) fn worst_case_context() -> MailContext {
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
        webhook_url: Some(format!("https://{}.example.com/{}", "h".repeat(60), "p".repeat(1900))),
        failing_since: Some("2030-12-31 23:59 UTC".into()),
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
