//! Webhook endpoints (admin): create, list, read, change, delete and rotate the secret of a
//! portal's endpoints. The secret is returned only by the create and rotate answers.

use serde::Deserialize;
use uuid::Uuid;

use crate::access::portal_for;
use crate::domain::delivery::{Delivery, DeliveryStatus};
use crate::domain::webhooks::{parse_event_filters, UrlPolicy, Webhook, WebhookUrl};
use crate::domain::{Actor, DeveloperSnapshot, EventSubject, EventType, LifecycleEvent, Timestamp};
use crate::error::AppError;
use crate::fields::{parse_description, parse_limit, Fields};
use crate::store::{AdminToken, DeliveryLog, DeliveryQuery, EventLog, OnConflict, Page, PortalStore, WebhookStore};

/// A portal has at most this many endpoints.
pub const MAX_WEBHOOKS_PER_PORTAL: usize = 20;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    pub url: String,
    pub events: Vec<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// A change: only the fields given; an empty `description` clears it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookPatch {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
}

fn conflict() -> AppError {
    AppError::Conflict("the webhook was changed by another request; read it again and retry".into())
}

/// `POST /api/portals/{portal_id}/webhooks`: the endpoint and its secret (shown once).
#[tracing::instrument(skip_all, fields(portal_id = %portal_id))]
pub async fn create<S: PortalStore + WebhookStore>(
    store: &S,
    token: &AdminToken,
    portal_id: Uuid,
    policy: UrlPolicy,
    body: NewWebhook,
    now: Timestamp,
) -> Result<Webhook, AppError> {
    let mut f = Fields::default();
    let url = f.check("url", WebhookUrl::parse(&body.url, policy));
    let events = f.check("events", parse_event_filters(&body.events));
    let description = parse_description(&body.description, &mut f);
    f.finish()?;
    let (_, existing) = tokio::try_join!(portal_for(store, token, portal_id), async { Ok(store.list_webhooks(portal_id).await?) })?;
    if existing.len() >= MAX_WEBHOOKS_PER_PORTAL {
        return Err(AppError::Conflict(format!("a portal can have at most {MAX_WEBHOOKS_PER_PORTAL} webhooks; delete one first")));
    }
    let webhook = Webhook {
        id: Uuid::now_v7(),
        portal_id,
        url: url.expect("checked").url,
        events: events.expect("checked"),
        enabled: body.enabled.unwrap_or(true),
        description,
        secret: crate::signing::new_secret(),
        previous_secret: None,
        previous_until: None,
        failing_since: None,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    store.create_webhook(&webhook).await.map_err(|e| match e {
        crate::store::StoreError::NotFound => AppError::not_found("portal"),
        e => e.into(),
    })?;
    Ok(webhook)
}

/// An endpoint of a portal the token may see.
pub async fn get<S: WebhookStore>(store: &S, token: &AdminToken, portal_id: Uuid, id: Uuid) -> Result<Webhook, AppError> {
    if !token.can_access(portal_id) {
        return Err(AppError::not_found("webhook"));
    }
    store.get_webhook(portal_id, id).await?.ok_or(AppError::not_found("webhook"))
}

#[tracing::instrument(skip_all, fields(portal_id = %portal_id))]
pub async fn list<S: PortalStore + WebhookStore>(store: &S, token: &AdminToken, portal_id: Uuid) -> Result<Vec<Webhook>, AppError> {
    let (_, list) = tokio::try_join!(portal_for(store, token, portal_id), async { Ok(store.list_webhooks(portal_id).await?) })?;
    Ok(list)
}

#[tracing::instrument(skip_all, fields(portal_id = %portal_id, webhook_id = %id))]
pub async fn update<S: WebhookStore>(
    store: &S,
    token: &AdminToken,
    portal_id: Uuid,
    id: Uuid,
    policy: UrlPolicy,
    patch: WebhookPatch,
    now: Timestamp,
) -> Result<Webhook, AppError> {
    let mut f = Fields::default();
    let url = patch.url.as_deref().and_then(|u| f.check("url", WebhookUrl::parse(u, policy)));
    let events = patch.events.as_deref().and_then(|e| f.check("events", parse_event_filters(e)));
    let description = patch.description.as_ref().map(|d| parse_description(&Some(d.clone()), &mut f));
    f.finish()?;
    let mut w = get(store, token, portal_id, id).await?;
    if let Some(url) = url {
        w.url = url.url;
    }
    if let Some(events) = events {
        w.events = events;
    }
    if let Some(description) = description {
        w.description = description;
    }
    if let Some(enabled) = patch.enabled {
        // Enabled again (after being disabled for failing): the failing clock starts afresh.
        if enabled && !w.enabled {
            w.failing_since = None;
        }
        w.enabled = enabled;
    }
    w.bump(now);
    store.update_webhook(&w).await.on_conflict(conflict)?;
    Ok(w)
}

#[tracing::instrument(skip_all, fields(portal_id = %portal_id, webhook_id = %id))]
pub async fn delete<S: WebhookStore>(store: &S, token: &AdminToken, portal_id: Uuid, id: Uuid) -> Result<(), AppError> {
    get(store, token, portal_id, id).await?;
    store.delete_webhook(portal_id, id).await.on_conflict(|| AppError::not_found("webhook"))
}

/// `POST .../webhooks/{id}/rotate-secret`: a new secret (shown once); the old one keeps
/// signing beside it for `overlap_seconds` (24 hours; `GATEHOUSE_WEBHOOK_ROTATION_OVERLAP_SECONDS`).
#[tracing::instrument(skip_all, fields(portal_id = %portal_id, webhook_id = %id))]
pub async fn rotate_secret<S: WebhookStore>(
    store: &S,
    token: &AdminToken,
    portal_id: Uuid,
    id: Uuid,
    overlap_seconds: i64,
    now: Timestamp,
) -> Result<String, AppError> {
    let mut w = get(store, token, portal_id, id).await?;
    w.rotate(crate::signing::new_secret(), overlap_seconds, now);
    store.update_webhook(&w).await.on_conflict(conflict)?;
    Ok(w.secret)
}

/// `POST .../webhooks/{id}/test`: records a `webhook.test` event (the admin its actor, the
/// endpoint's id its data) in the event log like every event; the fan-out delivers it to that
/// endpoint only, through the same queue and worker. A disabled endpoint is a 409.
#[tracing::instrument(skip_all, fields(portal_id = %portal_id, webhook_id = %id))]
pub async fn send_test<S: WebhookStore + EventLog>(
    store: &S,
    token: &AdminToken,
    portal_id: Uuid,
    id: Uuid,
    now: Timestamp,
) -> Result<LifecycleEvent, AppError> {
    let w = get(store, token, portal_id, id).await?;
    if !w.enabled {
        return Err(AppError::Conflict("the webhook is disabled; enable it to test it".into()));
    }
    let nobody = DeveloperSnapshot { email: None, name: String::new(), username: None };
    let mut event = LifecycleEvent::of_nobody(EventType::WebhookTest, portal_id, nobody, now);
    event.actor = Actor::admin(&token.id);
    event.subject = Some(EventSubject { webhook_id: Some(w.id), ..EventSubject::default() });
    store.record_event(&event, false).await?;
    Ok(event)
}

/// The query parameters of `GET .../deliveries` as they arrive.
#[derive(Debug, Default, Clone)]
pub struct DeliveryParams {
    pub status: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

/// `GET .../webhooks/{id}/deliveries`: the endpoint's deliveries, newest first, optionally of
/// one status. The endpoint read (access, and 404 for another portal's endpoint) and the page's
/// query run concurrently.
#[tracing::instrument(skip_all, fields(portal_id = %portal_id, webhook_id = %id))]
pub async fn list_deliveries<S: WebhookStore + DeliveryLog>(
    store: &S,
    token: &AdminToken,
    portal_id: Uuid,
    id: Uuid,
    params: &DeliveryParams,
) -> Result<Page<Delivery>, AppError> {
    let mut f = Fields::default();
    let status = params.status.as_deref().map(str::trim).filter(|s| !s.is_empty()).and_then(|raw| {
        f.check(
            "status",
            serde_json::from_value::<DeliveryStatus>(raw.into()).map_err(|_| "must be pending, succeeded or failed".to_string()),
        )
    });
    let limit = parse_limit(params.limit.as_deref(), &mut f);
    f.finish()?;
    let cursor = params.cursor.as_deref().map(str::trim).filter(|c| !c.is_empty()).map(str::to_string);
    let query = DeliveryQuery { webhook_id: id, status, limit, cursor };
    let (webhook, page) = tokio::join!(get(store, token, portal_id, id), store.list_deliveries(&query));
    webhook?;
    Ok(page?)
}
