//! The Webhooks tab (endpoints, Create webhook endpoint) and an endpoint's page (settings,
//! deliveries, Send test event, Rotate secret, Disable/Enable, Delete, Replay), through the
//! admin API's use cases (`crate::webhooks`, `crate::replay`). A secret is shown once, on the
//! answer of the create or the rotation (never in a URL, a redirect or a later page).

use serde_json::{json, Value};
use uuid::Uuid;

use super::views::webhooks::{self as wv, Detail};
use super::views::{self, Tab};
use super::{error_message, portal_base, portal_page, Console, ConsoleStore, View};
use crate::config::Config;
use crate::domain::webhooks::{UrlPolicy, Webhook};
use crate::domain::{Portal, Timestamp};
use crate::error::AppError;
use crate::pages::web::Form;
use crate::pages::PageResponse;
use crate::replay::ReplayQueue;
use crate::store::AdminToken;
use crate::webhooks::{DeliveryParams, WebhookPatch};

/// Rows of the deliveries table per page.
const DELIVERIES_PAGE: usize = 20;

pub(super) async fn webhooks_section<S: ConsoleStore>(
    store: &S,
    token: &AdminToken,
    portal: &Portal,
    base: &str,
    posted: Option<&Form>,
    errors: &[(String, String)],
) -> Result<Value, AppError> {
    let hooks = crate::webhooks::list(store, token, portal.id).await?;
    Ok(wv::webhooks(base, &hooks, posted, errors))
}

fn policy(config: &Config) -> UrlPolicy {
    UrlPolicy { allow_loopback_http: config.webhook_allow_loopback_http }
}

/// The page of a secret, by POST-redirect-GET: kept under this session for its result page,
/// whose first read deletes it (shown once; `no-store` like every console page), so a reload
/// neither shows it again nor creates or rotates anything.
async fn secret_page<S: ConsoleStore>(
    store: &S,
    c: Console<'_>,
    portal: &Portal,
    w: &Webhook,
    secret: &str,
    rotated: bool,
    now: Timestamp,
) -> PageResponse {
    let s = wv::secret_page(&portal_base(portal), w, secret, rotated);
    super::results::keep(store, c, portal, super::results::Outcome::Secret(s), now).await
}

/// `POST .../webhooks`: Create webhook endpoint. The answer shows the secret once; the API's
/// errors go back to the tab beside the fields.
pub(super) async fn create_post<S: ConsoleStore>(
    store: &S,
    config: &Config,
    c: Console<'_>,
    portal: &Portal,
    form: &Form,
    now: Timestamp,
) -> PageResponse {
    let token = c.token().clone();
    match crate::webhooks::create(store, &token, portal.id, policy(config), wv::new_webhook(form), now).await {
        Ok(w) => {
            let secret = w.secret.clone();
            secret_page(store, c, portal, &w, &secret, false, now).await
        }
        Err(e) => {
            let status = crate::http::status_of(&e);
            if status >= 500 {
                return c.error_page(&e);
            }
            let (field_errors, errors) = wv::create_errors(&e);
            let view = View {
                status: Some(status),
                errors,
                tab: Some(Tab::Webhooks),
                field_errors,
                posted: Some(form.clone()),
                ..Default::default()
            };
            portal_page(store, c, portal, view, now).await
        }
    }
}

/// `GET .../webhooks/{id}`: the endpoint's page (`?status=`, `?cursor=`, `?replay=` after a
/// replay started).
pub(super) async fn webhook_page<S: ConsoleStore>(store: &S, c: Console<'_>, portal: &Portal, id: Uuid) -> PageResponse {
    let status = c.req.query("status").filter(|s| !s.is_empty()).map(str::to_string);
    let cursor = c.req.query("cursor").map(str::to_string);
    let replay_id = c.req.query("replay").and_then(|r| r.parse::<Uuid>().ok()).map(|r| r.to_string());
    detail_page(store, c, portal, id, 200, vec![], status.clone(), replay_id, None, vec![], (status, cursor)).await
}

#[allow(clippy::too_many_arguments)]
async fn detail_page<S: ConsoleStore>(
    store: &S,
    mut c: Console<'_>,
    portal: &Portal,
    id: Uuid,
    status: u16,
    errors: Vec<Value>,
    filter: Option<String>,
    replay_id: Option<String>,
    posted: Option<&Form>,
    replay_errors: Vec<(String, String)>,
    (status_q, cursor): (Option<String>, Option<String>),
) -> PageResponse {
    let token = c.token().clone();
    let params = DeliveryParams { status: status_q, limit: Some(DELIVERIES_PAGE.to_string()), cursor };
    let (w, deliveries) = tokio::join!(
        crate::webhooks::get(store, &token, portal.id, id),
        crate::webhooks::list_deliveries(store, &token, portal.id, id, &params)
    );
    let w = match w {
        Ok(w) => w,
        Err(e) => return c.error_page(&e),
    };
    let mut errors = errors;
    let deliveries = match deliveries {
        Ok(d) => d,
        Err(e @ AppError::Invalid(_)) => {
            errors.push(json!({ "message": error_message(&e) }));
            crate::store::Page { items: vec![], next_cursor: None, total: None }
        }
        Err(e) => return c.error_page(&e),
    };
    let base = portal_base(portal);
    let detail = Detail { status: filter.as_deref(), replay_id, posted, replay_errors };
    let mut ctx = c.context(&format!("{} · Webhooks · {}", w.url, portal.name), errors);
    ctx.insert("portal_name".into(), portal.name.clone().into());
    ctx.insert("back".into(), json!({ "label": format!("Back to {}", portal.name), "href": views::tab_url(&base, Tab::Webhooks) }));
    ctx.insert("w".into(), wv::webhook_detail(&base, &w, &deliveries, &detail));
    c.html(status, "console/webhook.html", ctx)
}

/// `GET .../webhooks/{id}/delete`: the Delete confirmation without JavaScript.
pub(super) async fn confirm_delete<S: ConsoleStore>(store: &S, mut c: Console<'_>, portal: &Portal, id: Uuid) -> PageResponse {
    let w = match crate::webhooks::get(store, c.token(), portal.id, id).await {
        Ok(w) => w,
        Err(e) => return c.error_page(&e),
    };
    let confirm = wv::delete_confirm(&portal_base(portal), &w);
    let mut ctx = c.context(confirm["title"].as_str().unwrap_or_default(), vec![]);
    ctx.insert("confirm".into(), confirm);
    c.html(200, "confirm.html", ctx)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Test,
    Rotate,
    Disable,
    Enable,
    Delete,
    Replay,
}

const BUTTONS: [(&str, Action); 6] = [
    ("test", Action::Test),
    ("rotate", Action::Rotate),
    ("disable", Action::Disable),
    ("enable", Action::Enable),
    ("delete", Action::Delete),
    ("replay", Action::Replay),
];

/// `POST .../webhooks/{id}`: the button pressed (`<action>=<id>`) picks the use case. Done:
/// back to the endpoint (or the tab after a delete) with a flash; a rotation answers with the
/// new secret; an error shows on the endpoint's page (Replay's beside its fields).
#[allow(clippy::too_many_arguments)]
pub(super) async fn webhook_post<S: ConsoleStore, Q: ReplayQueue>(
    store: &S,
    queue: Option<&Q>,
    config: &Config,
    c: Console<'_>,
    portal: &Portal,
    id: Uuid,
    form: &Form,
    now: Timestamp,
) -> PageResponse {
    let token = c.token().clone();
    let base = portal_base(portal);
    let back = format!("{base}/webhooks/{id}");
    let Some((action, posted_id)) = super::row_button(form, &BUTTONS) else {
        return c.message(400, "This did not work", "Choose an action.", ("Back to the endpoint", &back));
    };
    if posted_id != Some(id) {
        return c.error_page(&AppError::not_found("webhook"));
    }
    let patch = |enabled: bool| WebhookPatch { enabled: Some(enabled), ..Default::default() };
    let done: Result<(&str, String), AppError> = match action {
        Action::Test => crate::webhooks::send_test(store, &token, portal.id, id, now).await.map(|_| ("webhook_test_sent", back.clone())),
        Action::Disable => crate::webhooks::update(store, &token, portal.id, id, policy(config), patch(false), now)
            .await
            .map(|_| ("webhook_disabled", back.clone())),
        Action::Enable => crate::webhooks::update(store, &token, portal.id, id, policy(config), patch(true), now)
            .await
            .map(|_| ("webhook_enabled", back.clone())),
        Action::Delete => {
            crate::webhooks::delete(store, &token, portal.id, id).await.map(|()| ("webhook_deleted", views::tab_url(&base, Tab::Webhooks)))
        }
        Action::Rotate => {
            let overlap = config.webhook_rotation_overlap_seconds;
            return match crate::webhooks::rotate_secret(store, &token, portal.id, id, overlap, now).await {
                Ok(secret) => match crate::webhooks::get(store, &token, portal.id, id).await {
                    Ok(w) => secret_page(store, c, portal, &w, &secret, true, now).await,
                    Err(e) => c.error_page(&e),
                },
                Err(e) => failed(store, c, portal, id, e, None, vec![]).await,
            };
        }
        Action::Replay => {
            let window =
                crate::replay::ReplayWindow { since: wv::replay_time(form.get("since")), until: wv::replay_time(form.get("until")) };
            let started = match queue {
                Some(q) => crate::replay::start(store, q, &token, portal.id, id, window, now).await,
                None => Err(AppError::Unavailable("the delivery queue is not configured".into())),
            };
            match started {
                Ok(replay) => Ok(("replay_started", format!("{back}?replay={replay}"))),
                Err(e) => {
                    let (by_field, _) = wv::replay_errors(&e);
                    return failed(store, c, portal, id, e, Some(form), by_field).await;
                }
            }
        }
    };
    match done {
        Ok((flash, to)) => c.redirect(&to, Some(flash)),
        Err(e) => failed(store, c, portal, id, e, None, vec![]).await,
    }
}

/// An action's error on the endpoint's page, with its status; ours is the error page.
async fn failed<S: ConsoleStore>(
    store: &S,
    c: Console<'_>,
    portal: &Portal,
    id: Uuid,
    e: AppError,
    posted: Option<&Form>,
    replay_errors: Vec<(String, String)>,
) -> PageResponse {
    let status = crate::http::status_of(&e);
    if status >= 500 {
        return c.error_page(&e);
    }
    let errors = if replay_errors.is_empty() { vec![json!({ "message": error_message(&e) })] } else { wv::replay_errors(&e).1 };
    detail_page(store, c, portal, id, status, errors, None, None, posted, replay_errors, (None, None)).await
}
