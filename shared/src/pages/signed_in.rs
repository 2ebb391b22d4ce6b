//! The signed-in pages: change password (forced after a one-time password) and the account
//! page with its applications, API keys and subscriptions; and signing out.

use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::forms::*;
use super::signed_out::error_page;
use super::web::{self, Form};
use super::{Page, PageResponse, PageStore, Pre};
use crate::domain::Timestamp;
use crate::error::AppError;
use crate::sessions::Authenticated;

/// The session of the request, or the answer that sends the browser to sign in.
pub(super) async fn session<'a, S: PageStore>(
    store: &S,
    pre: Pre<'a>,
    now: Timestamp,
) -> Result<(Pre<'a>, Authenticated, String), PageResponse> {
    let token = pre.req.cookie(web::SESSION_COOKIE).map(str::to_string);
    match crate::sessions::authenticate(store, token.clone(), pre.portal_id, now).await {
        Ok(auth) => {
            let mut pre = pre;
            let token = token.unwrap_or_default();
            pre.signed_in(&token);
            Ok((pre, auth, token))
        }
        Err(AppError::Unauthenticated(_)) => {
            let loopback = pre.loopback();
            let mut r = pre.redirect("login", Some("signed_in_elsewhere"));
            if token.is_some() {
                r.cookies.push(web::clear_cookie(web::SESSION_COOKIE, "/", loopback));
            }
            Err(r)
        }
        Err(e) => Err(pre.render(store, false, |page| error_page(page, &e)).await),
    }
}

pub(super) async fn logout<S: PageStore>(store: &S, pre: Pre<'_>, now: Timestamp) -> PageResponse {
    let form = pre.req.form();
    let loopback = pre.loopback();
    let clear = web::clear_cookie(web::SESSION_COOKIE, "/", loopback);
    let token = pre.req.cookie(web::SESSION_COOKIE).map(str::to_string);
    if let Ok(auth) = crate::sessions::authenticate(store, token.clone(), pre.portal_id, now).await {
        if !pre.session_post_ok(token.as_deref().unwrap_or_default(), &form) {
            return pre
                .render(store, false, |page| page.message(403, "This form expired", EXPIRED_FORM, Some(("Go to your account", "account"))))
                .await;
        }
        if let Err(e) = store.delete_session(auth.developer.id, &auth.session.token_hash).await {
            return pre.render(store, false, |page| error_page(page, &e.into())).await;
        }
    }
    pre.redirect("login", Some("signed_out")).cookie(clear)
}

pub(super) async fn change_password<S: PageStore>(store: &S, pre: Pre<'_>, post: bool, now: Timestamp) -> PageResponse {
    let (pre, auth, token) = match session(store, pre, now).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let forced = auth.developer.must_change_password;
    let lead = if forced { Some("You signed in with a one-time password. Choose your own password before anything else.") } else { None };
    let show = |page: Page<'_>, auth: &Authenticated, form: Option<&Form>, problem: Option<Problem>| {
        let status = problem.as_ref().map_or(200, Problem::status);
        let title = if forced { "Choose your password" } else { "Change password" };
        page.form_page(status, title, lead, "change-password", "Change password", &CHANGE, form, problem.as_ref(), json!({}), Some(auth))
    };
    if !post {
        return pre.render(store, false, |page| show(page, &auth, None, None)).await;
    }
    let form = pre.req.form();
    if !pre.session_post_ok(&token, &form) {
        return pre.render(store, false, |page| show(page, &auth, Some(&form), Some(Problem::Expired))).await;
    }
    let body = crate::sessions::PasswordChange {
        current_password: form.get("current_password").to_string(),
        new_password: form.get("new_password").to_string(),
    };
    let kept = auth.clone_auth();
    match crate::sessions::change_password(store, auth, body, &pre.req.client_ip, now).await {
        Ok(()) => pre.redirect("account", Some("password_changed")),
        Err(e) => pre.render(store, false, |page| show(page, &kept, Some(&form), Some(Problem::App(e)))).await,
    }
}

/// Which of the account page's forms a problem concerns.
#[derive(Default, Clone, Copy, PartialEq, Eq)]
pub(super) enum ProblemIn {
    /// The page as a whole (the summary only).
    #[default]
    Page,
    NewApp,
    /// The product field of this application's subscribe form.
    Subscribe(Uuid),
}

/// What the account page shows beside the account itself.
#[derive(Default)]
pub(super) struct AccountView<'f> {
    /// An API key just created: its application and the key, shown once.
    new_key: Option<(Uuid, String)>,
    /// The form whose values are shown again (the new-application or a subscribe form).
    form: Option<&'f Form>,
    problem: Option<Problem>,
    problem_in: ProblemIn,
    notice: Option<&'static str>,
}

pub(super) async fn account<S: PageStore>(store: &S, pre: Pre<'_>, post: bool, path: &str, now: Timestamp) -> PageResponse {
    let (pre, auth, token) = match session(store, pre, now).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if auth.developer.must_change_password {
        return pre.redirect("change-password", None);
    }
    let action = path.strip_prefix("account").unwrap_or_default().trim_start_matches('/');
    if !post {
        return match action {
            "" => account_page(store, pre, &auth, AccountView::default()).await,
            "delete-app" | "delete-key" => pre.render(store, false, |page| confirm_page(page, action)).await,
            _ => {
                pre.render(store, false, |page| {
                    page.message(404, "Page not found", "There is no page at this address.", Some(("Go to your account", "account")))
                })
                .await
            }
        };
    }
    let form = pre.req.form();
    if !pre.session_post_ok(&token, &form) {
        let view = AccountView { problem: Some(Problem::Expired), ..Default::default() };
        return account_page(store, pre, &auth, view).await;
    }
    let app_id = form.get("app_id").parse::<Uuid>();
    let problem = |e, problem_in| AccountView { form: Some(&form), problem: Some(Problem::App(e)), problem_in, ..Default::default() };
    let done = match (action, app_id) {
        ("applications", _) => {
            let body =
                crate::applications::NewApplication { name: form.get("name").to_string(), description: form.optional("description") };
            match crate::applications::create_app(store, auth.clone_auth(), body, now).await {
                Ok(_) => Ok("app_created"),
                Err(e) => return account_page(store, pre, &auth, problem(e, ProblemIn::NewApp)).await,
            }
        }
        ("keys", Ok(app)) => {
            let nonce = form.get("nonce");
            if !nonce.is_empty() && pre.req.cookie(web::KEY_NONCE_COOKIE) == Some(nonce) {
                let view = AccountView {
                    notice: Some("This key was already created and is shown only once. Create another key if you need one."),
                    ..Default::default()
                };
                return account_page(store, pre, &auth, view).await;
            }
            match crate::applications::create_credential(store, &auth, app, now).await {
                Ok((_, key)) => {
                    let safe: String = nonce.chars().filter(char::is_ascii_alphanumeric).take(64).collect();
                    let cookie = web::set_cookie(web::KEY_NONCE_COOKIE, &safe, &pre.base, Some(3600), pre.loopback());
                    let view = AccountView { new_key: Some((app, key)), ..Default::default() };
                    return account_page(store, pre, &auth, view).await.cookie(cookie);
                }
                Err(e) => Err(e),
            }
        }
        ("delete-app", Ok(app)) => crate::applications::delete_app(store, auth.clone_auth(), app, now).await.map(|()| "app_deleted"),
        ("delete-key", _) => match form.get("key").split_once(':').map(|(a, c)| (a.parse::<Uuid>(), c.parse::<Uuid>())) {
            Some((Ok(app), Ok(credential))) => {
                crate::applications::delete_credential(store, &auth, app, credential, now).await.map(|()| "key_deleted")
            }
            _ => Err(AppError::not_found("credential")),
        },
        ("subscribe", Ok(app)) => {
            let body = crate::applications::Subscribe { product: form.get("product").to_string() };
            match crate::applications::subscribe(store, &auth, app, body, now).await {
                Ok(_) => Ok("subscribed"),
                // The field's own errors, and a second subscription to the same product, stand
                // next to that application's product field.
                Err(e @ (AppError::Invalid(_) | AppError::Conflict(_))) => {
                    return account_page(store, pre, &auth, problem(e, ProblemIn::Subscribe(app))).await
                }
                Err(e) => Err(e),
            }
        }
        ("unsubscribe", Ok(app)) => {
            crate::applications::unsubscribe(store, &auth, app, form.get("product"), now).await.map(|()| "unsubscribed")
        }
        (_, Err(_)) => Err(AppError::not_found("application")),
        _ => Err(AppError::not_found("page")),
    };
    match done {
        Ok(flash) => pre.redirect("account", Some(flash)),
        Err(e) => account_page(store, pre, &auth, AccountView { problem: Some(Problem::App(e)), ..Default::default() }).await,
    }
}

impl Authenticated {
    fn clone_auth(&self) -> Authenticated {
        Authenticated { developer: self.developer.clone(), session: self.session.clone() }
    }
}

pub(super) fn confirm_page(mut page: Page<'_>, action: &str) -> PageResponse {
    let (title, text, label, names): (&str, &str, &str, &[&str]) = match action {
        "delete-app" => ("Delete this application?", "Its API keys stop working at once. This cannot be undone.", "Delete", &["app_id"]),
        _ => ("Delete this API key?", "Anything using it stops working at once. This cannot be undone.", "Delete", &["key"]),
    };
    let fields: Map<String, Value> = names.iter().map(|n| (n.to_string(), page.req.query(n).unwrap_or_default().into())).collect();
    let mut ctx = page.context(title, vec![]);
    let confirm = json!({
        "id": action, "title": title, "text": text, "confirm_label": label, "action": page.url(&format!("account/{action}")),
        "fields": fields, "cancel_href": page.url("account"),
    });
    ctx.insert("confirm".into(), confirm);
    ctx.insert("user".into(), json!({ "name": "", "sign_out_action": page.url("logout") }));
    page.html(200, "confirm.html", ctx)
}

/// The product field of an application's subscribe form.
pub(super) const PRODUCT: FieldDef = FieldDef {
    hint: Some("Letters, digits, '-', '_' or '.', as the API's documentation names it."),
    ..field("product", "API product", "text", "off")
};

/// The account page: the portal read alongside the applications (`Query`), then every
/// application's keys concurrently; the same round trips as `GET .../me/applications` and
/// its keys.
pub(super) async fn account_page<S: PageStore>(store: &S, pre: Pre<'_>, auth: &Authenticated, view: AccountView<'_>) -> PageResponse {
    let portal_id = pre.portal_id;
    let (portal, apps) = tokio::join!(store.get_portal(portal_id), crate::applications::apps_with_credentials(store, auth));
    let mut page = match pre.with(portal, Ok(vec![])) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let apps = match apps {
        Ok(a) => a,
        Err(e) => return error_page(page, &e),
    };
    let defs: &[FieldDef] = match view.problem_in {
        ProblemIn::NewApp => &NEW_APP,
        ProblemIn::Subscribe(_) => std::slice::from_ref(&PRODUCT),
        ProblemIn::Page => &[],
    };
    let (field_errors, mut errors) = match (&view.problem, view.problem_in) {
        // A second subscription is the field's error too.
        (Some(Problem::App(AppError::Conflict(m))), ProblemIn::Subscribe(_)) => {
            let text = sentence(m);
            (vec![("product".to_string(), text.clone())], vec![json!({ "message": text, "field": "product" })])
        }
        (p, _) => form_errors(defs, p.as_ref()),
    };
    let status = view.problem.as_ref().map_or(200, Problem::status);
    // The summary links to the field of the form concerned.
    let target_of = |field: &str| match view.problem_in {
        ProblemIn::NewApp => Some(format!("f-app-{field}")),
        ProblemIn::Subscribe(app) => apps.iter().position(|(a, _)| a.id == app).map(|i| format!("f-product-{}", i + 1)),
        ProblemIn::Page => None,
    };
    for e in &mut errors {
        if let Some(t) = e.get("field").and_then(Value::as_str).and_then(target_of) {
            e["target"] = t.into();
        }
    }
    let mut ctx = page.context("Your account", errors);
    if let Some(n) = view.notice {
        ctx.insert("notices".into(), json!([{ "kind": "info", "text": n }]));
    }
    page.signed_in_chrome(&mut ctx, auth, "account");
    let d = &auth.developer;
    let mut profile = vec![json!({ "label": "Name", "value": d.name })];
    if let Some(e) = &d.email {
        profile.push(json!({ "label": "Email address", "value": e }));
    }
    if let Some(u) = &d.username {
        profile.push(json!({ "label": "Username", "value": u }));
    }
    profile.push(json!({ "label": "Member since", "value": d.created_at.format("%-d %B %Y").to_string() }));
    ctx.insert("profile".into(), Value::Array(profile));
    let delete_key_action = page.url("account/delete-key");
    let unsubscribe_action = page.url("account/unsubscribe");
    let mut rows = Vec::new();
    for (i, (app, creds)) in apps.iter().enumerate() {
        let key_rows: Vec<Value> = creds
            .iter()
            .map(|c| {
                let value = format!("{}:{}", app.id, c.id);
                json!({ "id": c.id, "cells": { "key": format!("{}…", c.key_prefix), "created": c.created_at.format("%-d %b %Y %H:%M UTC").to_string() },
                        "actions": [{ "label": "Delete", "kind": "danger", "small": true, "opens": "delete-key", "href": delete_key_action,
                                      "action": delete_key_action, "name": "key", "value": value, "subject": format!("{}…", c.key_prefix) }] })
            })
            .collect();
        let nonce: String = crate::crypto::nonce().chars().filter(char::is_ascii_alphanumeric).collect();
        let subscribe_here = view.problem_in == ProblemIn::Subscribe(app.id);
        let mut product_field = fields(
            std::slice::from_ref(&PRODUCT),
            view.form.filter(|_| subscribe_here),
            if subscribe_here { &field_errors } else { &[] },
            "",
        )
        .remove(0);
        product_field["id"] = format!("f-product-{}", i + 1).into();
        product_field["label"] = format!("API product for {}", app.name).into();
        let mut app_json = json!({
            "id": app.id, "name": app.name, "products": app.products,
            "keys": { "id": format!("keys-{}", i + 1), "caption": format!("API keys of {}", app.name),
                      "columns": [{ "key": "key", "label": "Key", "mono": true }, { "key": "created", "label": "Created" }],
                      "rows": key_rows, "empty": "No API keys yet." },
            "key_action": page.url("account/keys"), "key_nonce": nonce,
            "subscribe_action": page.url("account/subscribe"), "unsubscribe_action": unsubscribe_action,
            "product_field": product_field,
        });
        if let Some(desc) = &app.description {
            app_json["description"] = desc.clone().into();
        }
        rows.push(app_json);
    }
    ctx.insert("apps".into(), Value::Array(rows));
    let new_app_form = view.form.filter(|_| view.problem_in == ProblemIn::NewApp);
    let new_app_errors = if view.problem_in == ProblemIn::NewApp { field_errors.as_slice() } else { &[] };
    let mut new_app_fields = fields(&NEW_APP, new_app_form, new_app_errors, "");
    for f in &mut new_app_fields {
        let id = format!("f-app-{}", f["name"].as_str().unwrap_or_default());
        f["id"] = id.into();
    }
    ctx.insert("create_app".into(), json!({ "action": page.url("account/applications"), "fields": new_app_fields }));
    if let Some((app_id, key)) = view.new_key {
        let app_name = apps.iter().find(|(a, _)| a.id == app_id).map(|(a, _)| a.name.clone()).unwrap_or_default();
        ctx.insert("new_key".into(), json!({ "app_name": app_name, "key": key }));
    }
    let dialog = |id: &str, title: &str, text: &str, label: &str, action: String| json!({ "id": id, "title": title, "text": text, "confirm_label": label, "action": action });
    ctx.insert(
        "delete_app".into(),
        dialog(
            "delete-app",
            "Delete this application?",
            "Its API keys stop working at once. This cannot be undone.",
            "Delete",
            page.url("account/delete-app"),
        ),
    );
    ctx.insert(
        "delete_key".into(),
        dialog(
            "delete-key",
            "Delete this API key?",
            "Anything using it stops working at once. This cannot be undone.",
            "Delete",
            delete_key_action,
        ),
    );
    page.html(status, "portal/account.html", ctx)
}
