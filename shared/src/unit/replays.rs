//! Test deliveries, the deliveries list and replays over the in-memory ports: a test event is
//! an event of the log delivered to its endpoint only, the list is newest first by status with
//! cursors, and a replay walks the window oldest first, one delivered event per step, each with
//! its original webhook-id, a copy of a step doing nothing.

use chrono::{Duration, Utc};
use uuid::Uuid;

use crate::delivery::{attempt, fan_out, DeliveryMessage, Handled};
use crate::delivery_worker::delivery_batch;
use crate::domain::delivery::{DeliveryStatus, Next, Outcome};
use crate::domain::replay::ReplayStatus;
use crate::domain::webhooks::{DeliveryRules, RetrySchedule, UrlPolicy, Webhook};
use crate::domain::*;
use crate::error::AppError;
use crate::fakes::{self, FakeQueue, FakeSender, MemStore};
use crate::replay::{self, ReplayMessage, ReplayWindow, Stepped};
use crate::store::AdminToken;
use crate::webhooks::{self as hooks, DeliveryParams, NewWebhook};

fn admin(scope: &str) -> AdminToken {
    AdminToken {
        id: "tok".into(),
        name: "ops".into(),
        scope: scope.into(),
        token_hash: "h".into(),
        created_at: Utc::now(),
        expires_at: None,
    }
}

fn field_of(e: AppError) -> Vec<String> {
    match e {
        AppError::Invalid(f) => f.into_iter().map(|f| f.field).collect(),
        e => panic!("not a 400: {e:?}"),
    }
}

/// A portal with an endpoint for approvals and revocations and one for invites.
async fn setup() -> (MemStore, Portal, Webhook, Webhook) {
    let store = MemStore::default();
    let portal = fakes::portal(PortalSettings::default());
    store.add_portal(portal.clone());
    let mut made = vec![];
    for events in [vec!["developer.approved".to_string(), "developer.revoked".to_string()], vec!["invite.*".to_string()]] {
        let body = NewWebhook { url: "https://hooks.example.com/in".into(), events, description: None, enabled: None };
        made.push(hooks::create(&store, &admin("*"), portal.id, UrlPolicy::default(), body, Utc::now()).await.unwrap());
    }
    let invites = made.pop().unwrap();
    (store, portal, made.pop().unwrap(), invites)
}

/// An event of the portal at `at` (ids are made in call order, so call in time order).
fn event(store: &MemStore, portal: &Portal, t: EventType, at: Timestamp) -> LifecycleEvent {
    let dev = fakes::developer(portal, Origin::Registered, Some("ann@example.com"), None, DeveloperState::Approved, "hash");
    let e = LifecycleEvent::new(t, &dev, Actor::admin("tok"), at);
    store.events.lock().unwrap().push(e.clone());
    e
}

fn ids(sender: &FakeSender) -> Vec<String> {
    sender.received.lock().unwrap().iter().map(|(_, h, _)| h[0].1.clone()).collect()
}

#[tokio::test]
async fn a_test_is_an_event_of_the_log_delivered_signed_to_its_endpoint_only_whatever_its_filters() {
    let (store, portal, approvals, invites) = setup().await;
    let now = Utc::now();
    let e = hooks::send_test(&store, &admin("*"), portal.id, invites.id, now).await.unwrap();
    assert_eq!(store.events(), std::slice::from_ref(&e), "written to the event log like every event");
    assert_eq!((e.event_type, e.actor.0.as_str()), (EventType::WebhookTest, "admin:tok"));
    let queue = FakeQueue::default();
    assert_eq!(fan_out(&store, &queue, &e, now).await.unwrap(), 1, "the other endpoint (approved, revoked) gets nothing");
    let message = queue.sent.lock().unwrap()[0].0.clone();
    assert_eq!(message.webhook_id, invites.id, "although its filters are invite.*");
    let sender = FakeSender::default();
    attempt(&store, &queue, &sender, &DeliveryRules::default(), &message, now).await.unwrap();
    let (_, headers, body) = sender.received.lock().unwrap()[0].clone();
    assert_eq!(headers[0], ("webhook-id", e.id.to_string()));
    assert!(headers[2].1.starts_with("v1,"));
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (body["type"].as_str(), body["data"]["data"]["webhook_id"].as_str()),
        (Some("webhook.test"), Some(invites.id.to_string().as_str()))
    );
    assert!(!body.to_string().contains(&invites.secret) && !body.to_string().contains(&approvals.secret), "no secret in the event");
}

#[tokio::test]
async fn a_test_of_a_disabled_or_unknown_endpoint_writes_nothing() {
    let (store, portal, approvals, _) = setup().await;
    let patch = hooks::WebhookPatch { enabled: Some(false), ..Default::default() };
    hooks::update(&store, &admin("*"), portal.id, approvals.id, UrlPolicy::default(), patch, Utc::now()).await.unwrap();
    let disabled = hooks::send_test(&store, &admin("*"), portal.id, approvals.id, Utc::now()).await;
    assert!(matches!(disabled, Err(AppError::Conflict(_))), "{disabled:?}");
    let other_portal = hooks::send_test(&store, &admin("*"), Uuid::new_v4(), approvals.id, Utc::now()).await;
    assert!(matches!(other_portal, Err(AppError::NotFound { .. })));
    let scoped = hooks::send_test(&store, &admin(&Uuid::new_v4().to_string()), portal.id, approvals.id, Utc::now()).await;
    assert!(matches!(scoped, Err(AppError::NotFound { .. })));
    assert!(store.events().is_empty());
}

#[tokio::test]
async fn the_deliveries_list_is_newest_first_filtered_by_status_and_paged_with_cursors() {
    let (store, portal, approvals, _) = setup().await;
    let t0 = Utc::now();
    let queue = FakeQueue::default();
    let events: Vec<_> = (0..5).map(|i| event(&store, &portal, EventType::Approved, t0 + Duration::seconds(i))).collect();
    for e in &events {
        fan_out(&store, &queue, e, t0).await.unwrap();
    }
    let sender = FakeSender::default();
    sender.script.lock().unwrap().extend([Outcome::Failed { status: Some(503), error: "down".into() }]);
    let schedule = DeliveryRules { schedule: RetrySchedule(vec![60]), ..DeliveryRules::default() };
    for e in &events[..2] {
        let m = DeliveryMessage { portal_id: portal.id, webhook_id: approvals.id, event_id: e.id };
        attempt(&store, &queue, &sender, &schedule, &m, t0).await.unwrap();
    }
    let token = admin("*");
    let list = |status: Option<&str>, limit: Option<&str>, cursor: Option<String>| {
        let params = DeliveryParams { status: status.map(str::to_string), limit: limit.map(str::to_string), cursor };
        let (store, token) = (&store, &token);
        async move { hooks::list_deliveries(store, token, portal.id, approvals.id, &params).await }
    };
    let all = list(None, None, None).await.unwrap();
    let newest_first: Vec<Uuid> = events.iter().rev().map(|e| e.id).collect();
    assert_eq!(all.items.iter().map(|d| d.event_id).collect::<Vec<_>>(), newest_first);
    let pending = list(Some("pending"), None, None).await.unwrap();
    assert_eq!(pending.items.len(), 4);
    let failing = pending.items.iter().find(|d| d.event_id == events[0].id).unwrap();
    assert_eq!((failing.attempts, failing.last_status_code, failing.next_attempt_at), (1, Some(503), Some(t0 + Duration::seconds(60))));
    let succeeded = list(Some("succeeded"), None, None).await.unwrap();
    assert_eq!(succeeded.items.iter().map(|d| d.event_id).collect::<Vec<_>>(), [events[1].id]);
    let first = list(None, Some("2"), None).await.unwrap();
    let second = list(None, Some("2"), first.next_cursor.clone()).await.unwrap();
    let third = list(None, Some("2"), second.next_cursor.clone()).await.unwrap();
    let paged: Vec<Uuid> = [first.items, second.items, third.items].concat().iter().map(|d| d.event_id).collect();
    assert_eq!(paged, newest_first);
    assert_eq!(third.next_cursor, None);

    assert_eq!(field_of(list(Some("sent"), None, None).await.unwrap_err()), ["status"]);
    assert_eq!(field_of(list(None, Some("0"), None).await.unwrap_err()), ["limit"]);
    let elsewhere = hooks::list_deliveries(&store, &token, Uuid::new_v4(), approvals.id, &DeliveryParams::default()).await;
    assert!(matches!(elsewhere, Err(AppError::NotFound { .. })), "another portal's webhook");
}

async fn run_replay(store: &MemStore, queue: &FakeQueue, sender: &FakeSender, now: Timestamp) -> Vec<Stepped> {
    let mut steps = vec![];
    loop {
        let next = queue.replays.lock().unwrap().pop();
        let Some(m) = next else { return steps };
        steps.push(replay::step(store, queue, sender, &DeliveryRules::default(), &m, now).await.unwrap());
    }
}

#[tokio::test]
async fn a_replay_re_delivers_the_windows_wanted_events_oldest_first_with_their_ids_and_nothing_outside() {
    let (store, portal, approvals, _) = setup().await;
    let t0 = Utc::now() - Duration::hours(1);
    let before = event(&store, &portal, EventType::Approved, t0);
    let a = event(&store, &portal, EventType::Approved, t0 + Duration::seconds(10));
    let _unwanted = event(&store, &portal, EventType::Registered, t0 + Duration::seconds(11));
    let b = event(&store, &portal, EventType::Revoked, t0 + Duration::seconds(12));
    let c = event(&store, &portal, EventType::Approved, t0 + Duration::seconds(13));
    let _after = event(&store, &portal, EventType::Approved, t0 + Duration::seconds(30));
    // `a` was delivered once already: the replay starts a new cycle of the same delivery.
    let queue = FakeQueue::default();
    let sender = FakeSender::default();
    fan_out(&store, &queue, &a, t0).await.unwrap();
    let first = queue.sent.lock().unwrap().remove(0).0;
    attempt(&store, &queue, &sender, &DeliveryRules::default(), &first, t0).await.unwrap();
    sender.received.lock().unwrap().clear();

    let now = Utc::now();
    let window =
        ReplayWindow { since: Some((t0 + Duration::seconds(5)).to_rfc3339()), until: Some((t0 + Duration::seconds(20)).to_rfc3339()) };
    let id = replay::start(&store, &queue, &admin("*"), portal.id, approvals.id, window, now).await.unwrap();
    assert_eq!(
        queue.replays.lock().unwrap().clone(),
        [ReplayMessage { portal_id: portal.id, webhook_id: approvals.id, replay_id: id, after: None }]
    );
    let steps = run_replay(&store, &queue, &sender, now).await;
    assert_eq!(steps.len(), 4, "one event a step, then the end: {steps:?}");
    assert_eq!(steps[3], Stepped::Finished);
    assert!(steps[..3].iter().all(|s| *s == Stepped::Replayed(Handled::Attempted(Next::Done))));
    assert_eq!(ids(&sender), [a.id, b.id, c.id].map(|i| i.to_string()), "in order, the original webhook-ids, not {}", before.id);
    let d = store.deliveries.lock().unwrap()[&(approvals.id, a.id)].clone();
    assert_eq!((d.status, d.attempts, d.delivered_at), (DeliveryStatus::Succeeded, 1, Some(now)), "a new attempt cycle");
    let r = store.replays.lock().unwrap()[&(approvals.id, id)].clone();
    assert_eq!((r.status, r.replayed), (ReplayStatus::Done, 3));
}

#[tokio::test]
async fn a_copy_of_a_replay_step_does_nothing_and_a_long_window_pages_without_losing_an_event() {
    let (store, portal, approvals, _) = setup().await;
    let t0 = Utc::now() - Duration::hours(2);
    // More unwanted events than a page holds between two wanted ones.
    let a = event(&store, &portal, EventType::Approved, t0);
    for i in 0..(crate::domain::replay::REPLAY_PAGE as i64 + 3) {
        event(&store, &portal, EventType::Registered, t0 + Duration::seconds(1 + i));
    }
    let b = event(&store, &portal, EventType::Revoked, t0 + Duration::seconds(100));
    let (queue, sender, now) = (FakeQueue::default(), FakeSender::default(), Utc::now());
    let window = ReplayWindow { since: Some(t0.to_rfc3339()), until: Some((t0 + Duration::seconds(200)).to_rfc3339()) };
    replay::start(&store, &queue, &admin("*"), portal.id, approvals.id, window, now).await.unwrap();
    let first = queue.replays.lock().unwrap()[0].clone();
    assert_eq!(
        replay::step(&store, &queue, &sender, &DeliveryRules::default(), &first, now).await.unwrap(),
        Stepped::Replayed(Handled::Attempted(Next::Done))
    );
    queue.replays.lock().unwrap().remove(0);
    assert_eq!(replay::step(&store, &queue, &sender, &DeliveryRules::default(), &first, now).await.unwrap(), Stepped::Dropped, "a copy");
    assert_eq!(queue.replays.lock().unwrap().len(), 1, "the copy queued no second chain");
    let steps = run_replay(&store, &queue, &sender, now).await;
    assert!(steps.contains(&Stepped::Skipped), "a page of unwanted events is passed over: {steps:?}");
    assert_eq!(steps.last(), Some(&Stepped::Finished));
    assert_eq!(ids(&sender), [a.id, b.id].map(|i| i.to_string()));
}

#[tokio::test]
async fn a_replay_while_the_receiver_is_down_leaves_the_delivery_to_the_retry_schedule_and_carries_on() {
    let (store, portal, approvals, _) = setup().await;
    let t0 = Utc::now() - Duration::hours(1);
    let a = event(&store, &portal, EventType::Approved, t0);
    let b = event(&store, &portal, EventType::Approved, t0 + Duration::seconds(1));
    let (queue, sender, now) = (FakeQueue::default(), FakeSender::default(), Utc::now());
    sender.script.lock().unwrap().push_back(Outcome::Failed { status: Some(502), error: "bad gateway".into() });
    let window = ReplayWindow { since: Some(t0.to_rfc3339()), until: Some((t0 + Duration::seconds(5)).to_rfc3339()) };
    replay::start(&store, &queue, &admin("*"), portal.id, approvals.id, window, now).await.unwrap();
    run_replay(&store, &queue, &sender, now).await;
    assert_eq!(ids(&sender), [a.id, b.id].map(|i| i.to_string()));
    let retry = queue.sent.lock().unwrap().clone();
    assert_eq!(retry.len(), 1, "the failed one is on the schedule: {retry:?}");
    assert_eq!(retry[0].0.event_id, a.id);
    let d = store.deliveries.lock().unwrap()[&(approvals.id, a.id)].clone();
    assert_eq!((d.status, d.attempts, d.last_status_code), (DeliveryStatus::Pending, 1, Some(502)));
}

#[tokio::test]
async fn a_bad_window_is_a_400_naming_the_field_and_nothing_is_queued() {
    let (store, portal, approvals, _) = setup().await;
    let queue = FakeQueue::default();
    let now = Utc::now();
    let start = |since: Option<String>, until: Option<String>| {
        let (store, queue) = (&store, &queue);
        async move { replay::start(store, queue, &admin("*"), portal.id, approvals.id, ReplayWindow { since, until }, now).await }
    };
    let t = |d: Duration| Some((now + d).to_rfc3339());
    assert_eq!(field_of(start(None, t(Duration::zero())).await.unwrap_err()), ["since"]);
    assert_eq!(field_of(start(Some("yesterday".into()), Some("today".into())).await.unwrap_err()), ["since", "until"]);
    assert_eq!(field_of(start(t(Duration::zero()), t(-Duration::hours(1))).await.unwrap_err()), ["until"]);
    assert_eq!(field_of(start(t(-Duration::days(91)), t(Duration::zero())).await.unwrap_err()), ["since"], "beyond the retention");
    assert_eq!(field_of(start(t(-Duration::hours(1)), t(Duration::hours(2))).await.unwrap_err()), ["until"]);
    let elsewhere = replay::start(&store, &queue, &admin("*"), Uuid::new_v4(), approvals.id, ReplayWindow::default(), now).await;
    assert!(matches!(elsewhere, Err(AppError::Invalid(_))), "the body is checked first");
    let other = ReplayWindow { since: t(-Duration::hours(1)), until: t(Duration::zero()) };
    let elsewhere = replay::start(&store, &queue, &admin("*"), fakes::portal(PortalSettings::default()).id, approvals.id, other, now).await;
    assert!(matches!(elsewhere, Err(AppError::NotFound { .. })), "another portal's webhook: {elsewhere:?}");
    assert!(queue.replays.lock().unwrap().is_empty() && store.replays.lock().unwrap().is_empty());
}

#[tokio::test]
async fn the_worker_runs_replay_steps_and_deliveries_from_the_same_queue() {
    let (store, portal, approvals, _) = setup().await;
    let t0 = Utc::now() - Duration::minutes(10);
    let a = event(&store, &portal, EventType::Approved, t0);
    let (queue, sender, now) = (FakeQueue::default(), FakeSender::default(), Utc::now());
    let window = ReplayWindow { since: Some((t0 - Duration::seconds(1)).to_rfc3339()), until: Some(now.to_rfc3339()) };
    replay::start(&store, &queue, &admin("*"), portal.id, approvals.id, window, now).await.unwrap();
    let step = serde_json::to_string(&queue.replays.lock().unwrap()[0]).unwrap();
    let failed =
        delivery_batch(&store, &queue, &sender, &DeliveryRules::default(), &[("m1".into(), step), ("m2".into(), "{}".into())], now).await;
    assert_eq!(failed, ["m2"], "an unreadable body fails alone");
    assert_eq!(ids(&sender), [a.id.to_string()]);
}
