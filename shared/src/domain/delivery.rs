//! Webhook deliveries without I/O: one per (endpoint, event), its Standard Webhooks body, and
//! what an attempt's outcome makes of it under the retry schedule. The delivery path
//! (`crate::delivery`, run by `webhook-fanout` and `webhook-delivery`) is built on these.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::audit::event_view;
use super::webhooks::{RetrySchedule, Webhook};
use super::{EventType, LifecycleEvent};

/// At most this much of a receiver's answer is kept (characters).
pub const EXCERPT_CHARS: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    Pending,
    Succeeded,
    Failed,
}

/// One event for one endpoint, with its attempts so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub portal_id: Uuid,
    pub webhook_id: Uuid,
    pub event_id: Uuid,
    /// The developer the event is about: deliveries about one developer reach an endpoint in
    /// event order. None: unordered.
    #[serde(default)]
    pub developer_id: Option<Uuid>,
    pub event_type: EventType,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub last_status_code: Option<u16>,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub version: u64,
}

/// What one attempt found: a 2xx answer, or anything else (another status, a refused
/// address, a timeout, a refused connection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered { status: u16 },
    Failed { status: Option<u16>, error: String },
}

/// What happens after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Succeeded, or every retry was spent.
    Done,
    /// Try again after this many seconds.
    RetryIn(u64),
}

/// The contract's delivery view.
#[derive(Debug, Serialize)]
pub struct DeliveryView<'a> {
    pub event_id: Uuid,
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub last_status_code: Option<u16>,
    pub last_error: Option<&'a str>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
}

impl Delivery {
    /// The delivery of `event` to `webhook`, due now.
    pub fn new(webhook: &Webhook, event: &LifecycleEvent, now: DateTime<Utc>) -> Self {
        Self {
            portal_id: webhook.portal_id,
            webhook_id: webhook.id,
            event_id: event.id,
            developer_id: event.developer_id,
            event_type: event.event_type,
            status: DeliveryStatus::Pending,
            attempts: 0,
            last_status_code: None,
            last_error: None,
            next_attempt_at: Some(now),
            delivered_at: None,
            created_at: now,
            version: 1,
        }
    }

    /// Records an attempt made at `now`: a 2xx succeeds; anything else waits the schedule's
    /// next delay, or fails the delivery when every retry was spent.
    pub fn record(&mut self, outcome: Outcome, schedule: &RetrySchedule, now: DateTime<Utc>) -> Next {
        self.attempts += 1;
        self.version += 1;
        match outcome {
            Outcome::Delivered { status } => {
                self.status = DeliveryStatus::Succeeded;
                self.last_status_code = Some(status);
                self.last_error = None;
                self.next_attempt_at = None;
                self.delivered_at = Some(now);
                Next::Done
            }
            Outcome::Failed { status, error } => {
                self.last_status_code = status;
                self.last_error = Some(excerpt(&error));
                match schedule.next_delay(self.attempts) {
                    Some(delay) => {
                        self.next_attempt_at = Some(now + chrono::Duration::seconds(delay as i64));
                        Next::RetryIn(delay)
                    }
                    None => {
                        self.status = DeliveryStatus::Failed;
                        self.next_attempt_at = None;
                        Next::Done
                    }
                }
            }
        }
    }

    /// Waits `delay_seconds` for an older delivery of the same developer (no attempt made):
    /// the new due time is recorded, so a waiting delivery never looks abandoned.
    pub fn wait_for_order(&mut self, delay_seconds: u64, now: DateTime<Utc>) {
        self.version += 1;
        self.next_attempt_at = Some(now + chrono::Duration::seconds(delay_seconds as i64));
    }

    pub fn view(&self) -> DeliveryView<'_> {
        DeliveryView {
            event_id: self.event_id,
            event_type: self.event_type,
            status: self.status,
            attempts: self.attempts,
            last_status_code: self.last_status_code,
            last_error: self.last_error.as_deref(),
            next_attempt_at: self.next_attempt_at,
            delivered_at: self.delivered_at,
        }
    }
}

/// An older pending delivery whose due time passed this long ago has no worker left (its
/// message went to the dead-letter queue, or its endpoint was disabled and enabled again): it
/// no longer holds the deliveries after it. Longer than the longest queue delay (900 s) and
/// an attempt (15 s), with room for a slow queue.
pub const ABANDONED_AFTER_SECONDS: i64 = 3_600;

/// The per-developer order: of the older pending deliveries to the same endpoint about the
/// same developer (oldest first), the one this delivery must wait for, if any. One that
/// finished (succeeded or given up) is not pending; an abandoned one does not count.
pub fn waits_for(older_pending: &[Delivery], now: DateTime<Utc>) -> Option<&Delivery> {
    older_pending.iter().find(|d| {
        d.status == DeliveryStatus::Pending
            && d.next_attempt_at.is_some_and(|due| now - due < chrono::Duration::seconds(ABANDONED_AFTER_SECONDS))
    })
}

/// How long to wait for `older`: until just after its next attempt (at least 2 s, at most
/// the queue's 900 s; longer waits are chained).
pub fn order_wait(older: &Delivery, now: DateTime<Utc>) -> u64 {
    let until_due = older.next_attempt_at.map_or(0, |due| (due - now).num_seconds());
    (until_due + 1).clamp(2, super::webhooks::MAX_QUEUE_DELAY as i64) as u64
}

/// The body every attempt of an event sends: `{"type","timestamp","data":Event}` (the
/// timestamp is the event's, so every attempt sends the same bytes).
pub fn payload(event: &LifecycleEvent) -> String {
    json!({ "type": event.event_type.name(), "timestamp": event.at, "data": event_view(event) }).to_string()
}

/// The start of a receiver's answer or an error, at most [`EXCERPT_CHARS`] characters, control
/// characters replaced.
pub fn excerpt(text: &str) -> String {
    text.chars().take(EXCERPT_CHARS).map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// Whether an endpoint (its id and event filters) receives `event`: a `webhook.test` event
/// only its own endpoint, whatever its filters; any other event every endpoint whose filters
/// match it.
pub fn receives(webhook_id: Uuid, filters: &[String], event: &LifecycleEvent) -> bool {
    if event.event_type == EventType::WebhookTest {
        return event.subject.as_ref().and_then(|s| s.webhook_id) == Some(webhook_id);
    }
    filters.iter().filter_map(|f| super::audit::TypeFilter::parse(f).ok()).any(|f| f.matches(event.event_type))
}

impl Delivery {
    /// A new attempt cycle of this delivery (a replay): pending, due now, its attempts counted
    /// from zero under the retry schedule again.
    pub fn restart(&mut self, now: DateTime<Utc>) {
        self.status = DeliveryStatus::Pending;
        self.attempts = 0;
        self.last_status_code = None;
        self.last_error = None;
        self.next_attempt_at = Some(now);
        self.delivered_at = None;
        self.version += 1;
    }
}

/// An answer status is a success only when it is 2xx.
pub fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Actor, DeveloperSnapshot};

    fn event() -> LifecycleEvent {
        LifecycleEvent {
            id: Uuid::now_v7(),
            event_type: EventType::Approved,
            portal_id: Uuid::nil(),
            developer_id: Some(Uuid::nil()),
            actor: Actor::admin("tok"),
            from_state: None,
            to_state: None,
            at: DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap(),
            approval_id: None,
            developer: DeveloperSnapshot { email: Some("ann@example.com".into()), name: "Ann".into(), username: None },
            reason: None,
            invite_id: None,
            token_nonce: Some("n0nce".into()),
            expires_at: None,
            retention_days: None,
            subject: None,
        }
    }

    fn webhook() -> Webhook {
        let t = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap();
        Webhook {
            id: Uuid::now_v7(),
            portal_id: Uuid::nil(),
            url: "https://hooks.example.com/".into(),
            events: vec!["developer.*".into()],
            enabled: true,
            description: None,
            secret: "whsec_x".into(),
            previous_secret: None,
            previous_until: None,
            failing_since: None,
            created_at: t,
            updated_at: t,
            version: 1,
        }
    }

    #[test]
    fn the_body_is_type_timestamp_and_the_event_without_its_nonce() {
        let e = event();
        let body: serde_json::Value = serde_json::from_str(&payload(&e)).unwrap();
        assert_eq!(body["type"], "developer.approved");
        assert_eq!(body["timestamp"], "2027-01-15T08:00:00Z");
        assert_eq!(body["data"]["id"], e.id.to_string());
        assert!(!body.to_string().contains("n0nce"), "{body}");
        assert_eq!(payload(&e), payload(&e), "every attempt sends the same bytes");
    }

    #[test]
    fn a_2xx_succeeds_and_anything_else_waits_the_schedule_until_it_is_spent() {
        let (w, e) = (webhook(), event());
        let t0 = e.at;
        let schedule = RetrySchedule(vec![0, 5]);
        let mut d = Delivery::new(&w, &e, t0);
        assert_eq!((d.status, d.next_attempt_at), (DeliveryStatus::Pending, Some(t0)));
        let down = || Outcome::Failed { status: Some(503), error: "Service Unavailable".into() };
        assert_eq!(d.record(down(), &schedule, t0), Next::RetryIn(0));
        assert_eq!(d.record(Outcome::Failed { status: None, error: "connection refused".into() }, &schedule, t0), Next::RetryIn(5));
        assert_eq!((d.attempts, d.last_status_code, d.last_error.as_deref()), (2, None, Some("connection refused")));
        assert_eq!(d.next_attempt_at, Some(t0 + chrono::Duration::seconds(5)));
        let mut ok = d.clone();
        assert_eq!(ok.record(Outcome::Delivered { status: 204 }, &schedule, t0), Next::Done);
        assert_eq!(
            (ok.status, ok.delivered_at, ok.next_attempt_at, ok.last_error.clone()),
            (DeliveryStatus::Succeeded, Some(t0), None, None)
        );
        assert_eq!(d.record(down(), &schedule, t0), Next::Done, "every retry spent");
        assert_eq!((d.status, d.attempts, d.next_attempt_at), (DeliveryStatus::Failed, 3, None));
        let view = serde_json::to_value(d.view()).unwrap();
        assert_eq!(
            (view["status"].as_str(), view["type"].as_str(), view["last_status_code"].as_u64()),
            (Some("failed"), Some("developer.approved"), Some(503))
        );
    }

    #[test]
    fn only_a_short_excerpt_of_an_answer_is_kept_and_only_2xx_is_success() {
        let long = "é".repeat(1000) + "\n";
        assert_eq!(excerpt(&long).chars().count(), EXCERPT_CHARS);
        assert_eq!(excerpt("bad\ngateway"), "bad gateway");
        assert!(is_success(200) && is_success(299) && !is_success(199) && !is_success(301) && !is_success(500));
    }
}
