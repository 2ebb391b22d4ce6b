//! The template environment of the pages (`shared/templates/pages/README.md`, "The template
//! environment"): every file embedded under its path, HTML auto-escaping, semi-strict
//! undefined, trimmed blocks, and the one function `asset(name)`.

use std::sync::OnceLock;

use minijinja::{AutoEscape, Environment, Error, ErrorKind, UndefinedBehavior, Value};

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        [$(($name, include_str!(concat!("../../templates/pages/", $name)))),*]
    };
}

const TEMPLATES: [(&str, &str); 27] = templates![
    "base.html",
    "confirm.html",
    "partials/button.html",
    "partials/confirm_form.html",
    "partials/csrf.html",
    "partials/dialog.html",
    "partials/error_summary.html",
    "partials/field.html",
    "partials/notice.html",
    "partials/table.html",
    "partials/tabs.html",
    "portal/form.html",
    "portal/message.html",
    "portal/account.html",
    "console/sign_in.html",
    "console/message.html",
    "console/portals.html",
    "console/portal.html",
    "console/developer.html",
    "console/invite.html",
    "console/invite_forms.html",
    "console/bulk.html",
    "console/webhook.html",
    "console/webhook_secret.html",
    "console/templates.html",
    "console/template.html",
    "console/template_preview.html",
];

fn asset(name: &str) -> Result<String, Error> {
    super::assets::asset_url(name).ok_or_else(|| Error::new(ErrorKind::InvalidOperation, format!("no static file {name}")))
}

/// The environment, built once per cold start.
pub fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
        env.set_auto_escape_callback(|name| if name.ends_with(".html") { AutoEscape::Html } else { AutoEscape::None });
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.add_function("asset", asset);
        for (name, source) in TEMPLATES {
            env.add_template(name, source).unwrap_or_else(|e| panic!("the embedded template {name} does not compile: {e}"));
        }
        env
    })
}

/// Renders `template` (a path below `shared/templates/pages/`) with `ctx`.
pub fn render(template: &str, ctx: &Value) -> Result<String, Error> {
    environment().get_template(template)?.render(ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_template_compiles_and_a_page_names_its_assets_by_hash() {
        let env = environment();
        for (name, _) in TEMPLATES {
            env.get_template(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let ctx = minijinja::context! {
            title => "Sign in", heading => "Sign in", text => "<b>bold</b>",
            site => minijinja::context! { name => "Acme", home_url => "/portal/x/login", kind => "portal" },
        };
        let html = render("portal/message.html", &ctx).unwrap();
        assert!(
            html.contains(&super::super::assets::asset_url("gatehouse.css").unwrap().replace('/', "&#x2f;")),
            "the hashed name, escaped"
        );
        assert!(html.contains("&lt;b&gt;bold&lt;&#x2f;b&gt;"), "values are escaped");
        assert!(html.contains("<title>Sign in · Acme</title>"));
    }

    #[test]
    fn printing_a_missing_value_fails_instead_of_printing_nothing() {
        let ctx = minijinja::context! { title => "x", site => minijinja::context! { name => "Acme", home_url => "/", kind => "portal" } };
        assert!(render("portal/message.html", &ctx).is_err(), "heading and text are missing");
    }
}
