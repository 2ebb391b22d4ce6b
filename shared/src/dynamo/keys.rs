//! Every key, key prefix, index partition and item kind of the table, in one place: no other
//! module writes a literal such as `"DEV#"` or `"PROFILE"`. `docs/design.md` has the table.
//!
//! Items live in collections: `pk` names the owner (`DEV#<id>`, `PORTAL#<id>`, `EVENT#<id>`, …)
//! and `sk` the item in it (`PROFILE`, `APP#<id>`, `MAIL#<name>`, …). The five GSIs list
//! developers by state (gsi1) and in full (gsi2) and search them by email (gsi3), username
//! (gsi4) and name (gsi5); approvals, invites, teams, memberships and admin tokens reuse gsi1
//! and gsi2 with their own partitions.

use uuid::Uuid;

use crate::domain::{ApprovalStatus, DeveloperState, InviteStatus, LinkPurpose, Timestamp};

/// The `kind` attribute every item carries, so stream filters and ops tooling tell items apart.
pub mod kind {
    pub const PORTAL: &str = "portal";
    /// A portal's entry in the portal index (`PORTALS` / `<created_at>#<id>`).
    pub const PORTAL_INDEX: &str = "portal_index";
    pub const COUNTERS: &str = "counters";
    pub const DEVELOPER: &str = "developer";
    /// A uniqueness marker: an email, a username or a team name taken in a portal.
    pub const UNIQUE: &str = "unique";
    pub const APPROVAL: &str = "approval";
    pub const EVENT: &str = "event";
    pub const MAIL_MARKER: &str = "mail_marker";
    pub const INVITE: &str = "invite";
    pub const INVITE_MARKER: &str = "invite_marker";
    pub const LINK: &str = "link_token";
    pub const SESSION: &str = "session";
    pub const TEAM: &str = "team";
    pub const MEMBERSHIP: &str = "team_membership";
    pub const APPLICATION: &str = "application";
    pub const CREDENTIAL: &str = "credential";
    pub const ADMIN_TOKEN: &str = "admin_token";
    pub const CONSOLE_SESSION: &str = "console_session";
    /// A console POST's outcome, in its session's collection.
    pub const CONSOLE_RESULT: &str = "console_result";
    pub const THROTTLE: &str = "throttle";
    pub const WEBHOOK: &str = "webhook";
    pub const DELIVERY: &str = "delivery";
    pub const REPLAY: &str = "replay";
}

// Sort keys of the items that are alone (or first) in their collection.
pub const PORTAL_SK: &str = "PORTAL";
pub const COUNTERS: &str = "COUNTERS";
pub const PROFILE: &str = "PROFILE";
pub const UNIQUE: &str = "UNIQUE";
pub const APPROVAL_SK: &str = "APPROVAL";
pub const EVENT_SK: &str = "EVENT";
pub const INVITE_SK: &str = "INVITE";
pub const TEAM_SK: &str = "TEAM";
pub const ADMIN_TOKEN_SK: &str = "ADMINTOKEN";
pub const CONSOLE_SESSION_SK: &str = "CONSOLE";
pub const THROTTLE_SK: &str = "THROTTLE";

/// The table partition that lists every portal (one index item per portal, oldest first):
/// a global admin token's portal list is a `Query` of it, never a Scan.
pub const PORTALS: &str = "PORTALS";
/// The gsi2 partition that lists admin tokens (ops CLI).
pub const ADMIN_TOKENS: &str = "ADMINTOKENS";
/// Prefixes of the sort keys of a developer's applications and API keys.
pub const APP_PREFIX: &str = "APP#";
pub const KEY_PREFIX: &str = "KEY#";
/// A webhook endpoint in its portal's collection: `PORTAL#<portal>` / `WEBHOOK#<id>`.
pub const WEBHOOK_PREFIX: &str = "WEBHOOK#";

pub fn webhook(id: Uuid) -> String {
    format!("{WEBHOOK_PREFIX}{id}")
}

/// A webhook delivery in its endpoint's partition: `WEBHOOK#<webhook>` / `DELIVERY#<event id>`
/// (event ids are UUIDv7, so the partition sorts oldest first).
pub const DELIVERY_PREFIX: &str = "DELIVERY#";

pub fn delivery(event_id: Uuid) -> String {
    format!("{DELIVERY_PREFIX}{event_id}")
}

/// A replay of an endpoint, in its partition: `WEBHOOK#<webhook>` / `REPLAY#<replay id>`.
pub fn replay(id: Uuid) -> String {
    format!("REPLAY#{id}")
}

/// The gsi1 partition of the pending deliveries to one endpoint about one developer (sort key:
/// [`delivery`], oldest first): the per-developer order's one `Query`. Sparse: a delivery
/// leaves it when it succeeds or fails for good.
pub fn pending_chain(webhook_id: Uuid, developer_id: Uuid) -> String {
    format!("{WEBHOOK_PREFIX}{webhook_id}#DEV#{developer_id}#PENDING")
}
const EMAIL_MARKER: &str = "#EMAIL#";

pub fn portal(id: Uuid) -> String {
    format!("PORTAL#{id}")
}
pub fn developer(id: Uuid) -> String {
    format!("DEV#{id}")
}
pub fn email_marker(portal: Uuid, email_norm: &str) -> String {
    format!("PORTAL#{portal}{EMAIL_MARKER}{email_norm}")
}
/// The address an email marker's `pk` holds.
pub fn email_of_marker(pk: &str) -> Option<&str> {
    pk.rsplit_once(EMAIL_MARKER).map(|(_, e)| e)
}
pub fn username_marker(portal: Uuid, username_norm: &str) -> String {
    format!("PORTAL#{portal}#USERNAME#{username_norm}")
}
pub fn team_name_marker(portal: Uuid, name: &str) -> String {
    format!("PORTAL#{portal}#TEAMNAME#{}", name.to_lowercase())
}
pub fn approval(id: Uuid) -> String {
    format!("APPROVAL#{id}")
}
pub fn event(id: Uuid) -> String {
    format!("EVENT#{id}")
}
/// The sort key of an event's exactly-once marker for one mail.
pub fn mail(name: &str) -> String {
    format!("MAIL#{name}")
}
/// A console session, by the SHA-256 of its id.
pub fn console_session(hash: &str) -> String {
    format!("CONSOLE#{hash}")
}
/// The sort key of a console POST's outcome in its session's collection.
pub fn console_result(id: Uuid) -> String {
    format!("RESULT#{id}")
}
pub fn admin_token(hash: &str) -> String {
    format!("ADMINTOKEN#{hash}")
}
/// gsi2 sort key of an admin token: oldest first.
/// A portal's index item's sort key: creation order, then the id.
pub fn portal_order(created_at: Timestamp, id: Uuid) -> String {
    format!("{}#{id}", created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}
pub fn admin_token_order(created_at: Timestamp, id: &str) -> String {
    format!("{}#{id}", created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}
/// gsi1: a portal's developers in one state.
pub fn by_state(portal: Uuid, state: DeveloperState) -> String {
    format!("PORTAL#{portal}#STATE#{state}")
}
/// gsi2: all of a portal's developers.
pub fn all_developers(portal: Uuid) -> String {
    format!("PORTAL#{portal}#DEV")
}
/// gsi2: a portal's audit trail (event items; sort key: the event id).
pub fn portal_events(portal: Uuid) -> String {
    format!("PORTAL#{portal}#EVENTS")
}
/// gsi3: a portal's events of one type family (`developer`, `invite`, ...).
pub fn family_events(portal: Uuid, family: &str) -> String {
    format!("PORTAL#{portal}#EVENTS#{family}")
}
/// gsi1: one developer's history, kept after the developer is deleted.
pub fn developer_events(portal: Uuid, developer: Uuid) -> String {
    format!("PORTAL#{portal}#DEV#{developer}#EVENTS")
}
/// The search indexes' partitions (gsi3 `EMAIL`, gsi4 `USERNAME`, gsi5 `NAME`) of a portal.
pub fn search(portal: Uuid, field: &str) -> String {
    format!("PORTAL#{portal}#{field}")
}
pub const SEARCH_EMAIL: &str = "EMAIL";
pub const SEARCH_USERNAME: &str = "USERNAME";
pub const SEARCH_NAME: &str = "NAME";
/// A search index's sort key: the lower-cased value, then the id (unique, prefix-matchable).
pub fn search_sort(value_lower: &str, id: Uuid) -> String {
    format!("{value_lower}#{id}")
}
/// gsi1 (with a status) and gsi2 (without): approval requests of one event type.
pub fn approvals(event: &str, status: Option<ApprovalStatus>) -> String {
    match status {
        Some(st) => format!("APPROVALS#{event}#{}", st.as_str()),
        None => format!("APPROVALS#{event}"),
    }
}
/// An approval's sort key in its index partitions: the portal first, so a portal's requests
/// are a prefix ([`portal_prefix`]).
pub fn approval_order(portal: Uuid, id: Uuid) -> String {
    format!("{portal}#{id}")
}
pub fn portal_prefix(portal: &str) -> String {
    format!("{portal}#")
}
pub fn invite(id: Uuid) -> String {
    format!("INVITE#{id}")
}
pub fn invite_marker(portal: Uuid, email_norm: &str) -> String {
    format!("PORTAL#{portal}#INVITE#{email_norm}")
}
/// gsi1 (with a status) and gsi2 (without): a portal's invites.
pub fn invites(portal: Uuid, status: Option<InviteStatus>) -> String {
    match status {
        Some(st) => format!("PORTAL#{portal}#INVITES#{}", st.as_str()),
        None => format!("PORTAL#{portal}#INVITES"),
    }
}
pub fn link(purpose: LinkPurpose) -> String {
    format!("LINK#{}", purpose.as_str())
}
pub fn team(id: Uuid) -> String {
    format!("TEAM#{id}")
}
/// gsi2: a portal's teams.
pub fn teams(portal: Uuid) -> String {
    format!("PORTAL#{portal}#TEAMS")
}
/// gsi1: a team's memberships.
pub fn members(team: Uuid) -> String {
    format!("TEAM#{team}#MEMBERS")
}
pub fn app(id: Uuid) -> String {
    format!("{APP_PREFIX}{id}")
}
pub fn api_key(hash: &str) -> String {
    format!("{KEY_PREFIX}{hash}")
}
pub fn session(token_hash: &str) -> String {
    format!("SESSION#{token_hash}")
}
pub fn throttle(key: &str) -> String {
    format!("THROTTLE#{key}")
}
