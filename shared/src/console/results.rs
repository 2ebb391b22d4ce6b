//! The outcomes of the POSTs that report one line per address or developer (an invite, a bulk
//! decision), by POST-redirect-GET: the POST keeps its outcome a short while, keyed by its
//! session and a random id, and answers 303 to `results/<id>`; that GET page shows it. A reload
//! re-runs nothing, and another session (its own key) reads nothing.

use serde_json::{json, Value};
use uuid::Uuid;

use super::views::Tab;
use super::{portal_base, portal_page, session, Console, ConsoleStore, View};
use crate::domain::{Portal, Timestamp};
use crate::error::AppError;
use crate::pages::PageResponse;
use crate::store::ConsoleResult;

/// How long a result page can be read (and reloaded) after its POST.
pub const TTL_SECONDS: i64 = 600;

/// What a result page shows.
pub(super) enum Outcome {
    /// Per-address outcomes of an invite, or the developer a one-time password created (the
    /// Invites tab shows it above the list).
    Invite(Value),
    /// A bulk decision's `{heading, table, next}` (`console/bulk.html`).
    Bulk(Value),
    /// A webhook endpoint's new secret (`console/webhook_secret.html`'s `{title, portal_name, s}`):
    /// shown once, the first read deletes it.
    Secret(Value),
}

impl Outcome {
    fn body(self) -> Value {
        match self {
            Outcome::Invite(v) => json!({ "kind": "invite", "view": v }),
            Outcome::Bulk(v) => json!({ "kind": "bulk", "view": v }),
            Outcome::Secret(v) => json!({ "kind": "secret", "view": v }),
        }
    }
}

/// The stored result of `outcome` for this session (its expiry at most the session's).
pub fn record(session_hash: String, portal_id: Uuid, body: Value, now: Timestamp) -> ConsoleResult {
    ConsoleResult { session_hash, id: Uuid::new_v4(), portal_id, body, expires_at: now + chrono::Duration::seconds(TTL_SECONDS) }
}

/// Whether a stored result may be shown to this portal's page at `now`.
pub fn readable(r: &ConsoleResult, portal_id: Uuid, now: Timestamp) -> bool {
    r.portal_id == portal_id && now < r.expires_at
}

pub fn result_url(base: &str, id: Uuid) -> String {
    format!("{base}/results/{id}")
}

/// Keeps `outcome` for this session and redirects (303) to its page.
pub(super) async fn keep<S: ConsoleStore>(store: &S, c: Console<'_>, portal: &Portal, outcome: Outcome, now: Timestamp) -> PageResponse {
    let Some(hash) = c.cookie.as_deref().and_then(session::id_hash) else {
        return c.error_page(&AppError::Internal("a signed-in console request without its session".into()));
    };
    let r = record(hash, portal.id, outcome.body(), now);
    match store.put_console_result(&r).await {
        Ok(()) => c.redirect(&result_url(&portal_base(portal), r.id), None),
        Err(e) => c.error_page(&e.into()),
    }
}

/// `GET .../results/<id>`: this session's outcome, or a page that says it is gone. A secret is
/// read by `take`, so its page shows once.
pub(super) async fn result_page<S: ConsoleStore>(store: &S, mut c: Console<'_>, portal: &Portal, id: Uuid, now: Timestamp) -> PageResponse {
    let hash = c.cookie.as_deref().and_then(session::id_hash).unwrap_or_default();
    let read = match store.get_console_result(&hash, id).await {
        Ok(Some(r)) if r.body["kind"] == "secret" => store.take_console_result(&hash, id).await,
        other => other,
    };
    let found = match read {
        Ok(r) => r.filter(|r| readable(r, portal.id, now)),
        Err(e) => return c.error_page(&e.into()),
    };
    let Some(r) = found else {
        let back = portal_base(portal);
        return c.message(
            404,
            "This outcome is no longer here",
            "The outcome of an action is kept for ten minutes, for the session that ran it, and a secret is shown only once (rotate the endpoint's secret for a new one). The portal's lists show the current state.",
            ("Back to the portal", &back),
        );
    };
    let view = r.body["view"].clone();
    match r.body["kind"].as_str() {
        Some("invite") => {
            let v = View { tab: Some(Tab::Invites), invite_result: Some(view), ..Default::default() };
            portal_page(store, c, portal, v, now).await
        }
        Some("secret") => {
            let mut ctx = c.context(view["title"].as_str().unwrap_or_default(), vec![]);
            ctx.insert("portal_name".into(), portal.name.clone().into());
            ctx.insert("s".into(), view);
            c.html(200, "console/webhook_secret.html", ctx)
        }
        _ => {
            let heading = view["heading"].as_str().unwrap_or("Outcome").to_string();
            let mut ctx = c.context(&heading, vec![]);
            for k in ["heading", "table", "next"] {
                ctx.insert(k.into(), view[k].clone());
            }
            c.html(200, "console/bulk.html", ctx)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_is_kept_ten_minutes_under_a_random_id_for_its_portal_only() {
        let now = chrono::Utc::now();
        let (p, other) = (Uuid::new_v4(), Uuid::new_v4());
        let a = record("h".into(), p, json!({}), now);
        let b = record("h".into(), p, json!({}), now);
        assert_ne!(a.id, b.id);
        assert!(readable(&a, p, now + chrono::Duration::seconds(TTL_SECONDS - 1)));
        assert!(!readable(&a, p, now + chrono::Duration::seconds(TTL_SECONDS)), "expired at its expiry");
        assert!(!readable(&a, other, now), "another portal's page does not show it");
        assert_eq!(result_url("/console/portals/x", a.id), format!("/console/portals/x/results/{}", a.id));
    }
}
