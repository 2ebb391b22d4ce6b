//! Replays of an endpoint without I/O: the window an admin may ask for, and how one step of a
//! replay advances through the portal's event feed (oldest first), one delivered event per
//! step, so a large window never runs in one request (`crate::replay` runs the steps).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::delivery::receives;
use super::LifecycleEvent;

/// Events read from the feed per step (a step delivers at most one of them).
pub const REPLAY_PAGE: usize = 25;

/// How far ahead of now a window may end.
pub const MAX_UNTIL_AHEAD_SECONDS: i64 = 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplayStatus {
    Running,
    Done,
}

/// A replay of the kept events of a window to one endpoint: where it is in the feed (`cursor`,
/// the last event id it passed) and the endpoint's filters when it was asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Replay {
    pub id: Uuid,
    pub portal_id: Uuid,
    pub webhook_id: Uuid,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub events: Vec<String>,
    pub cursor: Option<Uuid>,
    pub status: ReplayStatus,
    /// Events handed to the delivery so far.
    pub replayed: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: u64,
}

/// Checks a window against the portal's retention: `since` before `until`, `since` not older
/// than the events the portal keeps, `until` at most an hour ahead. Returns the field at fault
/// and why.
pub fn check_window(
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    retention_days: u16,
    now: DateTime<Utc>,
) -> Result<(), (&'static str, String)> {
    if since >= until {
        return Err(("until", "must be after since".into()));
    }
    if since < now - Duration::days(i64::from(retention_days)) {
        return Err(("since", format!("must be within the {retention_days} days the portal keeps its events")));
    }
    if until > now + Duration::seconds(MAX_UNTIL_AHEAD_SECONDS) {
        return Err(("until", "must not be more than an hour ahead".into()));
    }
    Ok(())
}

impl Replay {
    pub fn new(id: Uuid, webhook: &super::webhooks::Webhook, since: DateTime<Utc>, until: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        Self {
            id,
            portal_id: webhook.portal_id,
            webhook_id: webhook.id,
            since,
            until,
            events: webhook.events.clone(),
            cursor: None,
            status: ReplayStatus::Running,
            replayed: 0,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    /// Whether the replay re-delivers `event` (the endpoint's filters; a test event only of
    /// this endpoint).
    pub fn wants(&self, event: &LifecycleEvent) -> bool {
        receives(self.webhook_id, &self.events, event)
    }

    /// One step over `page`, the next events of the window after the cursor, oldest first
    /// (`full`: the page was as long as asked, so more may follow). The cursor moves to the
    /// first event the endpoint wants, which is returned, or past the whole page; an empty or
    /// short page without a wanted event finishes the replay. The version is bumped: the
    /// caller writes the step conditionally, so only one copy of a message takes it.
    pub fn advance(&mut self, page: &[LifecycleEvent], full: bool, now: DateTime<Utc>) -> Option<LifecycleEvent> {
        self.version += 1;
        self.updated_at = now;
        match page.iter().find(|e| self.wants(e)) {
            Some(e) => {
                self.cursor = Some(e.id);
                self.replayed += 1;
                Some(e.clone())
            }
            None => {
                if let Some(last) = page.last() {
                    self.cursor = Some(last.id);
                }
                if !full {
                    self.status = ReplayStatus::Done;
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Actor, DeveloperSnapshot, EventSubject, EventType};

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    fn event(t: EventType) -> LifecycleEvent {
        let mut e =
            LifecycleEvent::of_nobody(t, Uuid::nil(), DeveloperSnapshot { email: None, name: String::new(), username: None }, at(0));
        e.actor = Actor::admin("tok");
        e
    }

    fn replay() -> Replay {
        Replay {
            id: Uuid::now_v7(),
            portal_id: Uuid::nil(),
            webhook_id: Uuid::now_v7(),
            since: at(-100),
            until: at(100),
            events: vec!["developer.approved".into(), "team.*".into()],
            cursor: None,
            status: ReplayStatus::Running,
            replayed: 0,
            created_at: at(0),
            updated_at: at(0),
            version: 1,
        }
    }

    #[test]
    fn a_window_must_be_ordered_kept_by_the_portal_and_not_far_ahead() {
        let now = at(0);
        assert!(check_window(at(-60), at(0), 90, now).is_ok());
        assert_eq!(check_window(at(0), at(0), 90, now).unwrap_err().0, "until");
        assert_eq!(check_window(at(10), at(0), 90, now).unwrap_err().0, "until");
        assert_eq!(check_window(now - Duration::days(91), at(0), 90, now).unwrap_err().0, "since");
        assert!(check_window(now - Duration::days(91), at(0), 400, now).is_ok(), "the portal's own retention bounds it");
        assert_eq!(check_window(at(-60), at(3601), 90, now).unwrap_err().0, "until");
    }

    #[test]
    fn a_step_moves_the_cursor_to_the_first_wanted_event_and_a_short_page_without_one_finishes() {
        let mut r = replay();
        let page = [event(EventType::Registered), event(EventType::Approved), event(EventType::TeamMemberAdded)];
        assert_eq!(r.advance(&page, true, at(1)).map(|e| e.id), Some(page[1].id));
        assert_eq!((r.cursor, r.replayed, r.status, r.version), (Some(page[1].id), 1, ReplayStatus::Running, 2));
        assert_eq!(r.advance(&page[2..], false, at(2)).map(|e| e.id), Some(page[2].id), "a short page still delivers");
        assert_eq!(r.status, ReplayStatus::Running);
        assert_eq!(r.advance(&[], false, at(3)), None);
        assert_eq!((r.status, r.cursor, r.replayed), (ReplayStatus::Done, Some(page[2].id), 2), "an empty page ends it");
    }

    #[test]
    fn a_full_page_without_a_wanted_event_moves_past_it_and_carries_on() {
        let mut r = replay();
        let page = [event(EventType::Registered), event(EventType::Revoked)];
        assert_eq!(r.advance(&page, true, at(1)), None);
        assert_eq!((r.cursor, r.status), (Some(page[1].id), ReplayStatus::Running));
        assert_eq!(r.advance(&page[..1], false, at(2)), None);
        assert_eq!(r.status, ReplayStatus::Done);
    }

    #[test]
    fn a_test_event_is_replayed_only_to_its_own_endpoint_whatever_the_filters() {
        let r = replay();
        let mut mine = event(EventType::WebhookTest);
        mine.subject = Some(EventSubject { webhook_id: Some(r.webhook_id), ..EventSubject::default() });
        let mut other = mine.clone();
        other.subject = Some(EventSubject { webhook_id: Some(Uuid::now_v7()), ..EventSubject::default() });
        assert!(r.wants(&mine) && !r.wants(&other));
        let all = Replay { events: vec!["webhook.*".into()], ..r.clone() };
        assert!(!all.wants(&other), "another endpoint's test is never replayed here");
    }
}
