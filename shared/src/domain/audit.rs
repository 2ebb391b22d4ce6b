//! The audit trail: filters on the event log (type pattern, actor, time window) and the
//! contract's Event shape (without any secret, token, nonce or hash).

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use super::model::{EventType, LifecycleEvent, Timestamp};

/// Retention of the audit trail, per portal (`audit_retention_days`).
pub const AUDIT_RETENTION_DEFAULT_DAYS: u16 = 90;
pub const AUDIT_RETENTION_MAX_DAYS: u16 = 400;

/// The families an event type belongs to (the part before the dot).
pub const EVENT_FAMILIES: &[&str] = &["developer", "invite", "team", "application", "credential", "webhook"];

impl EventType {
    /// The wire name, e.g. `developer.approved`.
    pub fn name(self) -> String {
        serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
    }

    /// The family, e.g. `developer` for `developer.approved`.
    pub fn family(self) -> String {
        self.name().split('.').next().unwrap_or_default().to_string()
    }

    pub fn from_name(raw: &str) -> Option<Self> {
        serde_json::from_value(Value::String(raw.to_string())).ok()
    }
}

/// `type=`: one event type, or a whole family written `family.*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeFilter {
    Exact(EventType),
    Family(&'static str),
}

impl TypeFilter {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if let Some(family) = raw.strip_suffix(".*") {
            return EVENT_FAMILIES
                .iter()
                .find(|f| **f == family)
                .map(|f| Self::Family(f))
                .ok_or_else(|| format!("must be an event type or one of {}", families_pattern()));
        }
        EventType::from_name(raw).map(Self::Exact).ok_or_else(|| format!("must be an event type or one of {}", families_pattern()))
    }

    /// The family whose index partition serves this filter.
    pub fn family(&self) -> String {
        match self {
            Self::Exact(t) => t.family(),
            Self::Family(f) => (*f).to_string(),
        }
    }

    /// The exact type a query must still filter on within the family (none for a family).
    pub fn exact(&self) -> Option<EventType> {
        match self {
            Self::Exact(t) => Some(*t),
            Self::Family(_) => None,
        }
    }

    pub fn matches(&self, t: EventType) -> bool {
        match self {
            Self::Exact(e) => *e == t,
            Self::Family(f) => t.family() == *f,
        }
    }
}

fn families_pattern() -> String {
    EVENT_FAMILIES.iter().map(|f| format!("{f}.*")).collect::<Vec<_>>().join(", ")
}

/// The stored actor of a self-service action without a session.
pub const ANONYMOUS: &str = "anonymous";

/// The kinds of actor the contract knows.
pub const ACTOR_KINDS: &[&str] = &["admin", "developer", "system"];

/// `actor=`: a kind (`admin`) or one actor (`admin:<token id>`, `developer:<id>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActorFilter {
    Kind(&'static str),
    Exact(String),
}

impl ActorFilter {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let msg = || "must be admin, developer, system, or kind:id (e.g. admin:<token id>)".to_string();
        if let Some(k) = ACTOR_KINDS.iter().find(|k| **k == raw) {
            return Ok(Self::Kind(k));
        }
        match raw.split_once(':') {
            Some((k, id)) if ACTOR_KINDS.contains(&k) && !id.is_empty() && id.len() <= 200 && !id.chars().any(char::is_control) => {
                Ok(Self::Exact(raw.to_string()))
            }
            _ => Err(msg()),
        }
    }

    /// The stored actor's prefix (a kind) or the whole stored actor.
    pub fn stored(&self) -> String {
        match self {
            Self::Kind(k) => format!("{k}:"),
            Self::Exact(a) => a.clone(),
        }
    }

    /// Whether the kind also takes the self-service actions stored without a session
    /// (`anonymous`: registration, sign-in, reset), which the Event shows as the developer's.
    pub fn takes_anonymous(&self) -> bool {
        *self == Self::Kind("developer")
    }

    pub fn matches(&self, stored: &str) -> bool {
        match self {
            Self::Kind(k) => stored.strip_prefix(k).is_some_and(|r| r.starts_with(':')) || (self.takes_anonymous() && stored == ANONYMOUS),
            Self::Exact(a) => stored == a,
        }
    }
}

/// The smallest UUIDv7 (as the lower-case text sort keys hold) of the millisecond `at`.
pub fn id_floor(at: Timestamp) -> String {
    let ms = at.timestamp_millis().max(0) as u64;
    let hex = format!("{ms:012x}");
    format!("{}-{}-0000-0000-000000000000", &hex[..8], &hex[8..12])
}

/// The largest such id of the millisecond `at`.
pub fn id_ceiling(at: Timestamp) -> String {
    let ms = at.timestamp_millis().max(0) as u64;
    let hex = format!("{ms:012x}");
    format!("{}-{}-ffff-ffff-ffffffffffff", &hex[..8], &hex[8..12])
}

/// An RFC 3339 time of `since=`/`until=`.
pub fn parse_time(raw: &str) -> Result<Timestamp, String> {
    DateTime::parse_from_rfc3339(raw.trim()).map(|t| t.with_timezone(&Utc)).map_err(|_| "must be an RFC 3339 time".to_string())
}

/// The `actor` object of an Event: kind, id and (where the event knows it) name.
fn actor_view(e: &LifecycleEvent) -> Value {
    let stored = e.actor.0.as_str();
    let (kind, id) = match stored.split_once(':').filter(|_| stored != ANONYMOUS) {
        Some((k, id)) => (k, Some(id.to_string())),
        // A self-service action without a session (registration, reset): the developer.
        None => ("developer", e.developer_id.map(|d| d.to_string())),
    };
    let name = match (kind, &id, e.developer_id) {
        ("developer", Some(id), Some(dev)) if *id == dev.to_string() => Some(e.developer.name.clone()).filter(|n| !n.is_empty()),
        _ => None,
    };
    let kind = if ACTOR_KINDS.contains(&kind) { kind } else { "system" };
    json!({ "kind": kind, "id": id, "name": name })
}

/// The contract's Event: `data` holds the developer snapshot and the ids the event refers
/// to; never the link's nonce (the token is derived from it), a hash or a secret.
pub fn event_view(e: &LifecycleEvent) -> Value {
    let mut data = serde_json::Map::new();
    data.insert("developer".into(), json!({ "email": e.developer.email, "name": e.developer.name, "username": e.developer.username }));
    let ids: [(&str, Option<Uuid>); 2] = [("approval_id", e.approval_id), ("invite_id", e.invite_id)];
    for (k, v) in ids {
        if let Some(v) = v {
            data.insert(k.into(), json!(v));
        }
    }
    if let Some(sub) = &e.subject {
        if let Value::Object(m) = json!(sub) {
            data.extend(m);
        }
    }
    if let Some(x) = e.expires_at {
        data.insert("expires_at".into(), json!(x));
    }
    json!({
        "id": e.id,
        "type": e.event_type,
        "portal_id": e.portal_id,
        "developer_id": e.developer_id,
        "actor": actor_view(e),
        "from_state": e.from_state,
        "to_state": e.to_state,
        "reason": e.reason,
        "at": e.at,
        "data": Value::Object(data),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Actor, DeveloperSnapshot};

    #[test]
    fn a_type_filter_is_one_type_or_a_family_written_with_a_star() {
        let f = TypeFilter::parse("developer.*").unwrap();
        assert!(f.matches(EventType::Approved) && f.matches(EventType::Registered));
        assert!(!f.matches(EventType::InviteSent));
        assert_eq!(f.family(), "developer");
        let e = TypeFilter::parse("invite.sent").unwrap();
        assert!(e.matches(EventType::InviteSent) && !e.matches(EventType::InviteWithdrawn));
        assert_eq!((e.family(), e.exact()), ("invite".to_string(), Some(EventType::InviteSent)));
        for bad in ["developer", "developer.", "dev.*", "*", "developer.approved.*", "developer.nope"] {
            assert!(TypeFilter::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_event_type_has_a_known_family() {
        for t in [EventType::Registered, EventType::InviteWithdrawn, EventType::PasswordReset, EventType::EmailVerified] {
            assert!(EVENT_FAMILIES.contains(&t.family().as_str()), "{t:?}");
            assert_eq!(EventType::from_name(&t.name()), Some(t));
        }
    }

    #[test]
    fn an_actor_filter_is_a_kind_or_one_actor() {
        let k = ActorFilter::parse("admin").unwrap();
        assert!(k.matches("admin:tok1") && !k.matches("administrator:x") && !k.matches("developer:x"));
        assert_eq!(k.stored(), "admin:");
        assert!(!k.matches("anonymous"));
        let dev = ActorFilter::parse("developer").unwrap();
        assert!(dev.matches("developer:x") && dev.matches("anonymous"), "self-service actions are the developer's");
        let one = ActorFilter::parse("admin:tok1").unwrap();
        assert!(one.matches("admin:tok1") && !one.matches("admin:tok2"));
        for bad in ["", "root", "root:x", "admin:", "anonymous"] {
            assert!(ActorFilter::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_time_window_becomes_the_range_of_uuid7_ids_of_its_milliseconds() {
        let at = parse_time("2026-01-02T03:04:05.678Z").unwrap();
        let id = Uuid::now_v7().to_string();
        assert!(id_floor(at) < id_ceiling(at));
        // Ids of that millisecond fall inside, ids of the next one outside.
        let v7 = uuid::Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, at.timestamp() as u64, 678_000_000)).to_string();
        assert!(id_floor(at) <= v7 && v7 <= id_ceiling(at), "{v7}");
        let later = at + chrono::Duration::milliseconds(1);
        assert!(v7 < id_floor(later));
        assert!(id < id_ceiling(chrono::Utc::now() + chrono::Duration::seconds(1)));
        assert!(parse_time("yesterday").is_err());
    }

    #[test]
    fn the_event_view_names_its_actor_and_never_shows_a_nonce() {
        let dev = Uuid::now_v7();
        let e = LifecycleEvent {
            id: Uuid::now_v7(),
            event_type: EventType::InviteSent,
            portal_id: Uuid::new_v4(),
            developer_id: Some(dev),
            actor: Actor::developer(dev),
            from_state: None,
            to_state: None,
            at: chrono::Utc::now(),
            approval_id: None,
            developer: DeveloperSnapshot { email: Some("a@b.example".into()), name: "Ann".into(), username: None },
            reason: None,
            invite_id: Some(Uuid::now_v7()),
            token_nonce: Some("SECRET-NONCE".into()),
            expires_at: None,
            retention_days: None,
            subject: None,
        };
        let v = event_view(&e);
        assert_eq!(v["actor"], json!({"kind": "developer", "id": dev.to_string(), "name": "Ann"}));
        assert_eq!(v["type"], "invite.sent");
        assert!(!v.to_string().contains("SECRET-NONCE"));
        let admin = event_view(&LifecycleEvent { actor: Actor::admin("tok1"), ..e.clone() });
        assert_eq!(admin["actor"], json!({"kind": "admin", "id": "tok1", "name": null}));
        let anon = event_view(&LifecycleEvent { actor: Actor::anonymous(), ..e });
        assert_eq!(anon["actor"]["kind"], "developer");
    }
}
