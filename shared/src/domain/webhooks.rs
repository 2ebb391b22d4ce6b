//! Webhook rules without I/O: which URLs an endpoint may have (checked at save), which
//! resolved addresses a delivery may connect to (checked at send time, against DNS
//! rebinding), and the retry schedule of Standard Webhooks.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::audit::TypeFilter;
use super::urls::{self, Http, UrlError, UrlRules};
use super::EventType;

/// Whether plain http to a loopback address is allowed (the local stack's switch); deployed,
/// only https to public addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UrlPolicy {
    pub allow_loopback_http: bool,
}

/// A webhook URL that passed the save-time checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl {
    pub url: String,
    pub https: bool,
    /// The host as written (brackets removed from an IPv6 literal), lower-cased.
    pub host: String,
    pub port: u16,
}

const MAX_URL: usize = 2048;

impl WebhookUrl {
    /// `https://host[:port][/path][?query]`; http only to a loopback host where the policy
    /// allows it. Literal private, loopback, link-local and metadata addresses are refused
    /// here (in any spelling a client would read as one); hostnames are checked again when
    /// resolved ([`check_resolved`]).
    pub fn parse(raw: &str, policy: UrlPolicy) -> Result<Self, String> {
        let rules = UrlRules {
            http: if policy.allow_loopback_http { Http::Loopback } else { Http::Never },
            query: true,
            fragment: false,
            max_len: MAX_URL,
        };
        let u = urls::parse(raw, rules).map_err(|e| match e {
            UrlError::Scheme => "must be an https URL".to_string(),
            UrlError::Credentials => "must not carry credentials".into(),
            UrlError::Fragment => "must not have a fragment".into(),
            UrlError::Malformed | UrlError::Query => format!("must be an absolute https URL of at most {MAX_URL} characters"),
        })?;
        let host = u.host.as_str();
        match u.ip {
            Some(ip) if !address_allowed(ip, policy.allow_loopback_http) => {
                return Err("must not point to a private, loopback, link-local or metadata address".into());
            }
            Some(_) => {}
            None if u.loopback && policy.allow_loopback_http => {}
            None if host == "localhost" || host.ends_with(".localhost") || host.ends_with(".internal") || !host.contains('.') => {
                return Err("must name a public host".into());
            }
            None if !host.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') => {
                return Err("must name a valid host".into());
            }
            None => {}
        }
        Ok(Self { url: u.raw, https: u.https, host: u.host, port: u.port })
    }
}

/// Whether a delivery may connect to `ip`: never a private, shared (CGNAT), link-local (the
/// metadata service lives there), unspecified, broadcast, multicast or documentation address;
/// loopback only with the local switch. IPv4-mapped IPv6 addresses are judged as IPv4.
pub fn address_allowed(ip: IpAddr, allow_loopback: bool) -> bool {
    match ip {
        IpAddr::V4(v4) => v4_allowed(v4, allow_loopback),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4_allowed(v4, allow_loopback),
            None => v6_allowed(v6, allow_loopback),
        },
    }
}

fn v4_allowed(ip: Ipv4Addr, allow_loopback: bool) -> bool {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        return allow_loopback;
    }
    !(ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && ip.octets()[2] == 0)
        || a >= 240)
}

fn v6_allowed(ip: Ipv6Addr, allow_loopback: bool) -> bool {
    if ip.is_loopback() {
        return allow_loopback;
    }
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local, fd00:ec2::254 (the metadata service) included
        || (first & 0xffc0) == 0xfe80 // link-local
        || first == 0x2001 && ip.segments()[1] == 0x0db8 // documentation
        || first == 0x0064 && ip.segments()[1] == 0xff9b) // NAT64 of any IPv4
}

/// The send-time check of what the host resolved to: every address must be allowed (a
/// mixed answer is a rebinding attempt); the delivery then connects to the first one, the
/// address that was checked, without a second lookup.
pub fn check_resolved(addrs: &[SocketAddr], allow_loopback: bool) -> Result<SocketAddr, String> {
    let first = addrs.first().ok_or("the host did not resolve")?;
    match addrs.iter().find(|a| !address_allowed(a.ip(), allow_loopback)) {
        Some(bad) => Err(format!("the host resolved to a refused address ({})", bad.ip())),
        None => Ok(*first),
    }
}

/// Standard Webhooks' recommended schedule: the first attempt immediately (at fan-out), then
/// retries after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h: eight attempts over about
/// 27 hours (at least 24 h, as the contract promises).
pub const STANDARD_SCHEDULE: [u64; 7] = [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000];

/// SQS holds a message back at most this long; longer waits are chained.
pub const MAX_QUEUE_DELAY: u64 = 900;

/// Retry delays in seconds, one per retry after the first attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule(pub Vec<u64>);

impl Default for RetrySchedule {
    fn default() -> Self {
        Self(STANDARD_SCHEDULE.to_vec())
    }
}

impl RetrySchedule {
    /// A schedule from a comma-separated list of seconds (tests use a short one); blank or
    /// garbage falls back to the standard one.
    pub fn parse(raw: Option<&str>) -> Self {
        let parsed: Option<Vec<u64>> = raw.and_then(|r| r.split(',').map(|s| s.trim().parse::<u64>().ok()).collect::<Option<Vec<_>>>());
        match parsed {
            Some(v) if !v.is_empty() => Self(v),
            _ => Self::default(),
        }
    }

    /// The wait before the next attempt after `attempts` failed ones; none when every retry
    /// was spent.
    pub fn next_delay(&self, attempts: u32) -> Option<u64> {
        self.0.get(attempts.saturating_sub(1) as usize).copied()
    }

    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }
}

/// The queue delay of a wait of `seconds` (chained re-enqueues for longer waits) and what is
/// left after it.
pub fn queue_delay(seconds: u64) -> (u64, u64) {
    let now = seconds.min(MAX_QUEUE_DELAY);
    (now, seconds - now)
}

/// How long a rotated-out secret keeps signing beside the new one (the default of
/// `GATEHOUSE_WEBHOOK_ROTATION_OVERLAP_SECONDS`).
pub const ROTATION_OVERLAP_SECONDS: i64 = 24 * 3600;

/// How long an endpoint may fail every delivery, since its last success, before it is
/// disabled (the default of `GATEHOUSE_WEBHOOK_DISABLE_AFTER_SECONDS`: 5 days).
pub const DISABLE_AFTER_SECONDS: i64 = 5 * 86_400;

/// The worker's rules: the retry schedule and when a failing endpoint is disabled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRules {
    pub schedule: RetrySchedule,
    pub disable_after_seconds: i64,
}

impl Default for DeliveryRules {
    fn default() -> Self {
        Self { schedule: RetrySchedule::default(), disable_after_seconds: DISABLE_AFTER_SECONDS }
    }
}

/// What an attempt's outcome changes in its endpoint's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Unchanged,
    /// The first failure since the last success (or since the endpoint was created).
    StartedFailing(DateTime<Utc>),
    /// A success after failures.
    Recovered,
    /// Every delivery failed for the whole period: disable the endpoint.
    Disable,
}

/// At most this many event filters per endpoint.
pub const MAX_EVENT_FILTERS: usize = 30;

/// A webhook endpoint of a portal, as stored. Holds its signing secrets: never serialize it
/// to a client; use [`Webhook::view`] (the secret is shown only by the create and rotate
/// answers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Webhook {
    pub id: Uuid,
    pub portal_id: Uuid,
    pub url: String,
    /// Event type filters (`developer.approved`, `developer.*`), each checked by
    /// [`TypeFilter::parse`].
    pub events: Vec<String>,
    pub enabled: bool,
    pub description: Option<String>,
    pub secret: String,
    /// The secret before the last rotation, still signing until `previous_until`.
    pub previous_secret: Option<String>,
    pub previous_until: Option<DateTime<Utc>>,
    /// Since when every attempt failed (none after a success): the disabling rule's clock.
    #[serde(default)]
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: u64,
}

/// The contract's Webhook, without secrets.
#[derive(Debug, Serialize)]
pub struct WebhookView<'a> {
    pub id: Uuid,
    pub url: &'a str,
    pub events: &'a [String],
    pub enabled: bool,
    pub description: Option<&'a str>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Webhook {
    pub fn view(&self) -> WebhookView<'_> {
        WebhookView {
            id: self.id,
            url: &self.url,
            events: &self.events,
            enabled: self.enabled,
            description: self.description.as_deref(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    /// Whether an event of this type goes to this endpoint.
    pub fn wants(&self, event_type: EventType) -> bool {
        self.enabled && self.events.iter().filter_map(|f| TypeFilter::parse(f).ok()).any(|f| f.matches(event_type))
    }

    /// The secrets that sign a delivery made at `now`: the current one, and the previous one
    /// during the rotation overlap.
    pub fn signing_secrets(&self, now: DateTime<Utc>) -> Vec<&str> {
        let mut secrets = vec![self.secret.as_str()];
        if let (Some(old), Some(until)) = (&self.previous_secret, self.previous_until) {
            if now < until {
                secrets.push(old);
            }
        }
        secrets
    }

    /// Replaces the secret; the old one keeps signing for `overlap_seconds`
    /// ([`ROTATION_OVERLAP_SECONDS`] unless a local stack shortens it).
    pub fn rotate(&mut self, new_secret: String, overlap_seconds: i64, now: DateTime<Utc>) {
        let old = std::mem::replace(&mut self.secret, new_secret);
        self.previous_secret = Some(old);
        self.previous_until = Some(now + chrono::Duration::seconds(overlap_seconds));
        self.bump(now);
    }

    /// What an attempt made at `now` changes in the endpoint's health: a success after
    /// failures recovers it; the first failure starts the clock; a failure when every attempt
    /// has failed for `disable_after_seconds` since then disables it.
    pub fn after_attempt(&self, delivered: bool, disable_after_seconds: i64, now: DateTime<Utc>) -> Health {
        match (delivered, self.failing_since) {
            (true, Some(_)) => Health::Recovered,
            (true, None) => Health::Unchanged,
            (false, None) => Health::StartedFailing(now),
            (false, Some(since)) if now - since >= chrono::Duration::seconds(disable_after_seconds) => Health::Disable,
            (false, Some(_)) => Health::Unchanged,
        }
    }

    pub fn bump(&mut self, now: DateTime<Utc>) {
        self.version += 1;
        self.updated_at = now;
    }
}

/// Parses an endpoint's event filters: 1 to [`MAX_EVENT_FILTERS`] event types or families,
/// repeats removed, in the order given.
pub fn parse_event_filters(raw: &[String]) -> Result<Vec<String>, String> {
    if raw.is_empty() || raw.len() > MAX_EVENT_FILTERS {
        return Err(format!("must list 1 to {MAX_EVENT_FILTERS} event types (a family as `developer.*`)"));
    }
    let mut out: Vec<String> = Vec::new();
    for r in raw {
        TypeFilter::parse(r).map_err(|e| format!("{r:?} {e}"))?;
        let r = r.trim().to_string();
        if !out.contains(&r) {
            out.push(r);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPLOYED: UrlPolicy = UrlPolicy { allow_loopback_http: false };
    const LOCAL: UrlPolicy = UrlPolicy { allow_loopback_http: true };

    #[test]
    fn only_https_urls_to_public_hosts_are_saved_when_deployed() {
        let u = WebhookUrl::parse("https://hooks.example.com/in?x=1", DEPLOYED).unwrap();
        assert_eq!((u.host.as_str(), u.port, u.https), ("hooks.example.com", 443, true));
        assert_eq!(WebhookUrl::parse("HTTPS://Hooks.Example.com:8443/", DEPLOYED).unwrap().port, 8443);
        for bad in [
            "http://hooks.example.com/",
            "ftp://hooks.example.com/",
            "hooks.example.com",
            "https://user:pw@hooks.example.com/",
            "https://hooks.example.com/#frag",
            "https://hooks.example.com:0/",
            "https://hooks.example.com:99999/",
            "https:///path",
            "https://localhost/",
            "https://metadata.google.internal/",
            "https://intranet/",
            "https://exa mple.com/",
            "",
        ] {
            assert!(WebhookUrl::parse(bad, DEPLOYED).is_err(), "{bad}");
        }
    }

    #[test]
    fn literal_private_loopback_link_local_and_metadata_addresses_are_refused_at_save() {
        for bad in [
            "http://169.254.169.254/",
            "https://169.254.169.254/latest/meta-data/",
            "http://10.0.0.1/",
            "https://10.0.0.1/",
            "https://172.16.5.4/",
            "https://192.168.1.1/",
            "https://127.0.0.1/",
            "https://0.0.0.0/",
            "https://100.64.0.1/",
            "https://[::1]/",
            "https://[fe80::1]/",
            "https://[fd00:ec2::254]/",
            "https://[::ffff:10.0.0.1]/",
            "https://[::ffff:169.254.169.254]/",
            "https://0x7f.1/",
            "https://2852039166/",
            "https://0251.0376.0251.0376/",
        ] {
            assert!(WebhookUrl::parse(bad, DEPLOYED).is_err(), "{bad}");
            if !bad.contains("127.0.0.1") && !bad.contains("[::1]") && !bad.contains("0x7f") {
                assert!(WebhookUrl::parse(bad, LOCAL).is_err(), "{bad} locally too");
            }
        }
        assert!(WebhookUrl::parse("https://93.184.216.34/", DEPLOYED).is_ok());
        assert!(WebhookUrl::parse("https://[2606:4700::1111]/", DEPLOYED).is_ok());
    }

    #[test]
    fn http_to_loopback_is_allowed_only_by_the_local_switch() {
        assert!(WebhookUrl::parse("http://127.0.0.1:8123/hook", LOCAL).is_ok());
        assert!(WebhookUrl::parse("http://localhost:8123/hook", LOCAL).is_ok());
        assert!(WebhookUrl::parse("http://[::1]:8123/hook", LOCAL).is_ok());
        assert!(WebhookUrl::parse("http://127.0.0.1:8123/hook", DEPLOYED).is_err());
        assert!(WebhookUrl::parse("http://hooks.example.com/", LOCAL).is_err(), "http elsewhere stays refused");
    }

    #[test]
    fn a_hostname_resolving_to_a_refused_address_is_refused_at_send_time() {
        let sa = |s: &str| s.parse::<SocketAddr>().unwrap();
        // Deployed, a public name that resolves to loopback (or rebinds to metadata) is refused.
        assert!(check_resolved(&[sa("127.0.0.1:443")], false).is_err());
        assert!(check_resolved(&[sa("93.184.216.34:443"), sa("169.254.169.254:443")], false).is_err(), "a mixed answer");
        assert!(check_resolved(&[sa("[::ffff:127.0.0.1]:443")], false).is_err());
        assert!(check_resolved(&[], false).is_err());
        assert_eq!(check_resolved(&[sa("93.184.216.34:443")], false).unwrap(), sa("93.184.216.34:443"));
        // Locally loopback is allowed, private ranges still are not.
        assert!(check_resolved(&[sa("127.0.0.1:8123")], true).is_ok());
        assert!(check_resolved(&[sa("10.0.0.1:80")], true).is_err());
    }

    #[test]
    fn the_retry_schedule_is_standard_webhooks_and_lasts_over_24_hours() {
        let s = RetrySchedule::default();
        assert!(s.total() >= 24 * 3600, "{}", s.total());
        // The first attempt is immediate; the retries wait 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
        assert_eq!(s.0, [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000]);
        assert_eq!((s.next_delay(1), s.next_delay(2), s.next_delay(3)), (Some(5), Some(300), Some(1_800)));
        assert_eq!(s.next_delay(7), Some(36_000));
        assert_eq!(s.next_delay(8), None, "eight attempts, then every retry is spent");
        assert_eq!(RetrySchedule::parse(Some("1, 2,3")), RetrySchedule(vec![1, 2, 3]));
        assert_eq!(RetrySchedule::parse(Some("soon")), RetrySchedule::default());
        assert_eq!(RetrySchedule::parse(None), RetrySchedule::default());
    }

    #[test]
    fn waits_longer_than_the_queue_allows_are_chained() {
        assert_eq!(queue_delay(5), (5, 0));
        assert_eq!(queue_delay(900), (900, 0));
        assert_eq!(queue_delay(7_200), (900, 6_300));
    }

    fn endpoint(events: &[&str]) -> Webhook {
        let t = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap();
        Webhook {
            id: Uuid::nil(),
            portal_id: Uuid::nil(),
            url: "https://hooks.example.com/".into(),
            events: events.iter().map(|e| e.to_string()).collect(),
            enabled: true,
            description: None,
            secret: "whsec_new".into(),
            previous_secret: None,
            previous_until: None,
            failing_since: None,
            created_at: t,
            updated_at: t,
            version: 1,
        }
    }

    #[test]
    fn an_endpoint_failing_every_delivery_for_the_whole_period_since_its_last_success_is_disabled() {
        let mut w = endpoint(&["developer.*"]);
        let t0 = w.created_at;
        let period = DISABLE_AFTER_SECONDS;
        assert_eq!(w.after_attempt(true, period, t0), Health::Unchanged);
        assert_eq!(w.after_attempt(false, period, t0), Health::StartedFailing(t0), "the first failure starts the clock");
        w.failing_since = Some(t0);
        let almost = t0 + chrono::Duration::seconds(period - 1);
        assert_eq!(w.after_attempt(false, period, almost), Health::Unchanged, "4 days 23:59:59 of failures: still enabled");
        assert_eq!(w.after_attempt(false, period, t0 + chrono::Duration::days(5)), Health::Disable);
        assert_eq!(w.after_attempt(true, period, t0 + chrono::Duration::days(5)), Health::Recovered, "a success resets the clock");
        assert_eq!(DeliveryRules::default().disable_after_seconds, 5 * 86_400);
    }

    #[test]
    fn an_endpoint_wants_the_event_types_its_filters_name_while_enabled() {
        let mut w = endpoint(&["developer.*", "invite.sent"]);
        assert!(w.wants(EventType::Approved) && w.wants(EventType::InviteSent));
        assert!(!w.wants(EventType::InviteWithdrawn));
        w.enabled = false;
        assert!(!w.wants(EventType::Approved), "a disabled endpoint gets nothing");
    }

    #[test]
    fn event_filters_are_checked_and_repeats_dropped() {
        let f = |v: &[&str]| parse_event_filters(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(f(&["developer.*", " developer.* ", "invite.sent"]).unwrap(), ["developer.*", "invite.sent"]);
        assert!(f(&[]).is_err());
        assert!(f(&["developer.nope"]).is_err());
        assert!(f(&["*"]).is_err());
        assert!(f(&vec!["developer.*"; MAX_EVENT_FILTERS + 1]).is_err());
    }

    #[test]
    fn after_a_rotation_both_secrets_sign_for_24_hours_then_only_the_new_one() {
        let mut w = endpoint(&["developer.*"]);
        w.secret = "whsec_old".into();
        let t = w.created_at;
        w.rotate("whsec_new".into(), ROTATION_OVERLAP_SECONDS, t);
        assert_eq!(w.version, 2);
        assert_eq!(w.signing_secrets(t), ["whsec_new", "whsec_old"]);
        assert_eq!(w.signing_secrets(t + chrono::Duration::seconds(ROTATION_OVERLAP_SECONDS - 1)), ["whsec_new", "whsec_old"]);
        assert_eq!(w.signing_secrets(t + chrono::Duration::seconds(ROTATION_OVERLAP_SECONDS)), ["whsec_new"]);
        let json = serde_json::to_string(&w.view()).unwrap();
        assert!(!json.contains("whsec_"), "the view never shows a secret: {json}");
    }
}
