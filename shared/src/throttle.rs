//! Throttling and anti-automation with fixed-window counters.
//!
//! Every limited attempt is **reserved** before the work it limits (an Argon2 hash, a mail):
//! one conditional `UpdateItem` adds 1 unless the counter is at its limit, so parallel
//! requests cannot pass a limit together (each gets its own count, or none). Counters are
//! one item per key and window, reaped by TTL at the window's end.
//!
//! - **Failed sign-ins per account** (the developer, however it was named: email or username;
//!   an unknown login is keyed by the normalized login string): at most 20 per 15 minutes from
//!   all clients, and at most 5 from one client. Both live on one item (`count` and one
//!   attribute per client), so one conditional write checks both. A success gives its attempt
//!   back and forgets that client's failures. Wrong `current_password` on `/me/password` counts
//!   the same way.
//! - **Anti-automation** on the public routes: register and login attempts per client and per
//!   portal per clock hour (deployment limits from the environment, a portal may lower them).
//! - **Reset requests**: 3 per address per clock hour (`recovery`).

use chrono::Duration;
use uuid::Uuid;

use crate::crypto::sha256_hex;
use crate::domain::{RateLimitOverrides, Timestamp};
use crate::error::AppError;
pub use crate::store::Counter;
use crate::store::ThrottleStore;

/// Window of the failed-sign-in limits.
pub const LOGIN_WINDOW_SECONDS: i64 = 900;
/// Failed sign-ins per account from one client per window.
pub const MAX_FAILURES_PER_CLIENT: u64 = 5;
/// Failed sign-ins per account from all clients together per window.
pub const MAX_FAILURES_PER_ACCOUNT: u64 = 20;
/// Window of the anti-automation limits and of the reset limit.
pub const HOUR_SECONDS: i64 = 3600;

/// The fixed window `now` falls in: its number and its end.
pub fn window(now: Timestamp, seconds: i64) -> (i64, Timestamp) {
    let bucket = now.timestamp().div_euclid(seconds);
    (bucket, chrono::DateTime::from_timestamp((bucket + 1) * seconds, 0).unwrap_or(now + Duration::seconds(seconds)))
}

/// Whom failed sign-ins are counted against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Account<'a> {
    /// A resolved account: the same bucket whether it was named by email or username.
    Developer(Uuid),
    /// No account answers to this normalized login string.
    Unknown(&'a str),
}

fn hashed(parts: &str) -> String {
    sha256_hex(parts.as_bytes())
}

/// The failed-sign-in counter of an account, with the client's share on the same item. Keys
/// and attribute names carry hashes only, never a login or an address in clear.
pub fn account_counter(portal: Uuid, account: Account<'_>, client: &str, now: Timestamp) -> Counter {
    let (bucket, ends) = window(now, LOGIN_WINDOW_SECONDS);
    let who = match account {
        Account::Developer(id) => format!("{portal}|developer|{id}"),
        Account::Unknown(login) => format!("{portal}|login|{login}"),
    };
    Counter {
        key: format!("login#{}#{bucket}", hashed(&who)),
        limit: MAX_FAILURES_PER_ACCOUNT,
        sub: Some((format!("c_{}", &hashed(client)[..24]), MAX_FAILURES_PER_CLIENT)),
        window_ends: ends,
    }
}

/// A stand-in developer id for a login no account answers to: the unknown path reads this
/// (missing) item so that it makes the same round trips as a known one.
pub fn placeholder_developer(portal: Uuid, login_norm: &str) -> Uuid {
    let digest = hashed(&format!("placeholder|{portal}|{login_norm}"));
    let mut bytes = [0u8; 16];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = u8::from_str_radix(&digest[i * 2..i * 2 + 2], 16).unwrap_or(0);
    }
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// The public actions with anti-automation limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Register,
    Login,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Self::Register => "register",
            Self::Login => "login",
        }
    }
}

/// Anti-automation limits: attempts per clock hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    pub register_per_client: u64,
    pub register_per_portal: u64,
    pub login_per_client: u64,
    pub login_per_portal: u64,
}

impl Default for RateLimits {
    /// A developer registers once, so 30 registrations per client per hour leave room for a
    /// workshop behind one NAT; sign-ins count every attempt (not only failures).
    fn default() -> Self {
        Self { register_per_client: 30, register_per_portal: 1000, login_per_client: 300, login_per_portal: 10_000 }
    }
}

impl RateLimits {
    /// `GATEHOUSE_REGISTER_LIMIT_PER_CLIENT`, `GATEHOUSE_REGISTER_LIMIT_PER_PORTAL`,
    /// `GATEHOUSE_LOGIN_LIMIT_PER_CLIENT`, `GATEHOUSE_LOGIN_LIMIT_PER_PORTAL` (per hour) as
    /// `lookup` gives them ([`crate::config`] passes the environment), each defaulting to
    /// [`RateLimits::default`].
    pub fn from_vars(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let d = Self::default();
        let var = |k: &str, default: u64| lookup(k).and_then(|v| v.trim().parse::<u64>().ok()).filter(|v| *v > 0).unwrap_or(default);
        Self {
            register_per_client: var("GATEHOUSE_REGISTER_LIMIT_PER_CLIENT", d.register_per_client),
            register_per_portal: var("GATEHOUSE_REGISTER_LIMIT_PER_PORTAL", d.register_per_portal),
            login_per_client: var("GATEHOUSE_LOGIN_LIMIT_PER_CLIENT", d.login_per_client),
            login_per_portal: var("GATEHOUSE_LOGIN_LIMIT_PER_PORTAL", d.login_per_portal),
        }
    }

    /// The limits for one portal: its own where it set one, never above the deployment's.
    pub fn for_portal(&self, own: &RateLimitOverrides) -> Self {
        let pick = |deployment: u64, own: Option<u64>| own.map_or(deployment, |o| o.min(deployment));
        Self {
            register_per_client: pick(self.register_per_client, own.register_per_client),
            register_per_portal: pick(self.register_per_portal, own.register_per_portal),
            login_per_client: pick(self.login_per_client, own.login_per_client),
            login_per_portal: pick(self.login_per_portal, own.login_per_portal),
        }
    }

    fn of(&self, action: Action) -> (u64, u64) {
        match action {
            Action::Register => (self.register_per_client, self.register_per_portal),
            Action::Login => (self.login_per_client, self.login_per_portal),
        }
    }

    /// The per-client and per-portal gates of `action` at these limits (those of the portal:
    /// [`RateLimits::for_portal`]), enforced by the conditional write itself.
    pub fn gates(&self, action: Action, portal: Uuid, client: &str, now: Timestamp) -> [Gate; 2] {
        let (bucket, ends) = window(now, HOUR_SECONDS);
        let (per_client, per_portal) = self.of(action);
        let a = action.name();
        [
            Gate {
                scope: Scope::Client,
                action,
                counter: Counter {
                    key: format!("{a}#client#{}#{bucket}", hashed(&format!("{portal}|{client}"))),
                    limit: per_client,
                    sub: None,
                    window_ends: ends,
                },
            },
            Gate {
                scope: Scope::Portal,
                action,
                counter: Counter { key: format!("{a}#portal#{portal}#{bucket}"), limit: per_portal, sub: None, window_ends: ends },
            },
        ]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Client,
    Portal,
}

/// One anti-automation counter of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gate {
    pub scope: Scope,
    pub action: Action,
    pub counter: Counter,
}

impl Gate {
    fn refusal(&self, now: Timestamp) -> AppError {
        let detail = match (self.action, self.scope) {
            (Action::Register, Scope::Client) => "too many registrations from this client; try again later",
            (Action::Register, Scope::Portal) => "this portal is taking too many registrations right now; try again later",
            (Action::Login, Scope::Client) => "too many sign-in attempts from this client; wait before trying again",
            (Action::Login, Scope::Portal) => "this portal is taking too many sign-in attempts right now; try again later",
        };
        AppError::Limited { detail: detail.into(), retry_after: self.counter.retry_after(now) }
    }
}

/// Reserves one attempt on every gate, concurrently (one round trip). When one is at its limit,
/// the attempts the others reserved are given back (a client over its limit does not use up
/// the portal's) and the answer is 429 with `Retry-After`.
pub async fn admit<S: ThrottleStore>(store: &S, gates: &[Gate], now: Timestamp) -> Result<(), AppError> {
    let reserved = futures::future::join_all(gates.iter().map(|g| store.reserve(&g.counter))).await;
    let mut counts = Vec::with_capacity(gates.len());
    for r in reserved {
        counts.push(r?);
    }
    let Some(refused) = counts.iter().position(Option::is_none) else {
        return Ok(());
    };
    let give_back = gates.iter().zip(&counts).filter(|(_, c)| c.is_some()).map(|(g, _)| store.release(&g.counter, false));
    for r in futures::future::join_all(give_back).await {
        r?;
    }
    Err(gates[refused].refusal(now))
}

/// The 429 of an account over its failed-sign-in limits.
pub fn account_locked(counter: &Counter, now: Timestamp) -> AppError {
    AppError::Limited {
        detail: "too many failed sign-ins for this account; wait before trying again".into(),
        retry_after: counter.retry_after(now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_limits_come_from_the_variables_and_fall_back_on_blank_zero_or_garbage() {
        let vars = |k: &str| match k {
            "GATEHOUSE_REGISTER_LIMIT_PER_CLIENT" => Some(" 7 ".to_string()),
            "GATEHOUSE_REGISTER_LIMIT_PER_PORTAL" => Some("0".to_string()),
            "GATEHOUSE_LOGIN_LIMIT_PER_CLIENT" => Some("many".to_string()),
            _ => None,
        };
        let d = RateLimits::default();
        let limits = RateLimits::from_vars(vars);
        assert_eq!(limits.register_per_client, 7);
        assert_eq!(limits.register_per_portal, d.register_per_portal);
        assert_eq!(limits.login_per_client, d.login_per_client);
        assert_eq!(limits.login_per_portal, d.login_per_portal);
    }

    fn at(s: &str) -> Timestamp {
        chrono::DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&chrono::Utc)
    }

    #[test]
    fn an_account_has_one_failed_sign_in_bucket_however_it_is_named() {
        let (p, dev) = (Uuid::new_v4(), Uuid::new_v4());
        let t = at("2026-01-01T10:05:00Z");
        // The login string is not part of a resolved account's key: email and username share it.
        let a = account_counter(p, Account::Developer(dev), "1.2.3.4", t);
        assert_eq!(a, account_counter(p, Account::Developer(dev), "1.2.3.4", t));
        assert_ne!(a.key, account_counter(p, Account::Developer(Uuid::new_v4()), "1.2.3.4", t).key, "another account");
        assert_ne!(a.key, account_counter(p, Account::Unknown("jane"), "1.2.3.4", t).key);
        assert_eq!((a.limit, a.sub.as_ref().unwrap().1), (MAX_FAILURES_PER_ACCOUNT, MAX_FAILURES_PER_CLIENT));
    }

    #[test]
    fn failed_sign_in_windows_are_fifteen_minutes_and_clients_have_their_own_share() {
        let p = Uuid::new_v4();
        let t = at("2026-01-01T10:05:00Z");
        let a = account_counter(p, Account::Unknown("jane"), "1.2.3.4", t);
        assert_eq!(a.window_ends, at("2026-01-01T10:15:00Z"));
        assert_eq!(a.retry_after(t), 600);
        let b = account_counter(p, Account::Unknown("jane"), "5.6.7.8", t);
        assert_eq!(a.key, b.key, "the account counter is shared");
        assert_ne!(a.sub, b.sub, "each client has its own share");
        let later = account_counter(p, Account::Unknown("jane"), "1.2.3.4", t + Duration::minutes(15));
        assert_ne!(a.key, later.key, "a new window starts afresh");
        assert!(!a.key.contains("jane") && !a.sub.unwrap().0.contains("1.2.3.4"), "no login or address in clear");
    }

    #[test]
    fn a_portal_may_lower_the_deployment_limits_but_not_raise_them() {
        let d = RateLimits::default();
        let own =
            RateLimitOverrides { register_per_client: Some(3), login_per_portal: Some(d.login_per_portal * 10), ..Default::default() };
        let l = d.for_portal(&own);
        assert_eq!(l.register_per_client, 3);
        assert_eq!(l.login_per_portal, d.login_per_portal, "capped at the deployment's");
        assert_eq!((l.register_per_portal, l.login_per_client), (d.register_per_portal, d.login_per_client));
    }

    #[test]
    fn anti_automation_gates_count_per_client_and_per_portal_and_per_action_for_an_hour() {
        let p = Uuid::new_v4();
        let t = at("2026-01-01T10:05:00Z");
        let d = RateLimits::default();
        let [c, portal] = d.gates(Action::Register, p, "1.2.3.4", t);
        let [c2, portal2] = d.gates(Action::Register, p, "5.6.7.8", t);
        assert_ne!(c.counter.key, c2.counter.key);
        assert_eq!(portal.counter.key, portal2.counter.key);
        assert_eq!(c.counter.window_ends, at("2026-01-01T11:00:00Z"));
        let [l, _] = d.gates(Action::Login, p, "1.2.3.4", t);
        assert_ne!(l.counter.key, c.counter.key, "sign-ins and registrations count apart");
        assert_eq!((c.counter.limit, portal.counter.limit), (d.register_per_client, d.register_per_portal));
        let own = d.for_portal(&RateLimitOverrides { login_per_client: Some(2), ..Default::default() });
        assert_eq!(own.gates(Action::Login, p, "1.2.3.4", t)[0].counter.limit, 2, "the portal's limit is the write's condition");
    }

    #[test]
    fn placeholder_developers_are_stable_per_login_and_never_a_real_id_shape_collision() {
        let p = Uuid::new_v4();
        assert_eq!(placeholder_developer(p, "nobody"), placeholder_developer(p, "nobody"));
        assert_ne!(placeholder_developer(p, "nobody"), placeholder_developer(p, "somebody"));
        assert_ne!(placeholder_developer(p, "nobody").get_version_num(), 7, "not a UUIDv7 like real developer ids");
    }
}
