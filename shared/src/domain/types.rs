//! Input parsed into domain types at the edge: once a value has one of these types it is valid.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a single field was refused. The handler turns a list of these into a 400 problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// An email address SES can deliver: an ASCII local part (SES has no SMTPUTF8) and a domain in
/// its ASCII form (an internationalised domain is stored as IDNA punycode). `display` keeps the
/// local part as typed; `normalized` (lower-cased) is used for uniqueness and lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    display: String,
    normalized: String,
}

const EMAIL_EXAMPLE: &str = "must be an email address such as dev@example.com";

impl Email {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim();
        if s.is_empty() {
            return Err("is required".into());
        }
        if s.chars().count() > 254 {
            return Err("must be at most 254 characters".into());
        }
        if has_control(s) || s.chars().any(char::is_whitespace) {
            return Err("must not contain spaces or control characters".into());
        }
        let (local, domain) = s.rsplit_once('@').ok_or(EMAIL_EXAMPLE)?;
        if !local.is_ascii() {
            return Err("must have an ASCII part before the @ (mail cannot be delivered to addresses with other characters there)".into());
        }
        if local.is_empty() || local.len() > 64 || local.contains('@') {
            return Err(EMAIL_EXAMPLE.into());
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(EMAIL_EXAMPLE.into());
        }
        if !local.chars().all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c)) {
            return Err(EMAIL_EXAMPLE.into());
        }
        let domain = Domain::parse(domain).map_err(|_| "must have a valid domain, such as example.com".to_string())?;
        let display = format!("{local}@{}", domain.as_str());
        if display.len() > 254 {
            return Err("must be at most 254 characters (with the domain in its ASCII form)".into());
        }
        let normalized = display.to_lowercase();
        Ok(Self { display, normalized })
    }

    pub fn as_str(&self) -> &str {
        &self.display
    }

    pub fn normalized(&self) -> &str {
        &self.normalized
    }

    /// The lower-cased domain part (ASCII; punycode for an internationalised domain).
    pub fn domain(&self) -> &str {
        self.normalized.rsplit_once('@').map(|(_, d)| d).unwrap_or_default()
    }

    pub fn local_part(&self) -> &str {
        self.display.rsplit_once('@').map(|(l, _)| l).unwrap_or_default()
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

/// A DNS domain name in its ASCII form (IDNA: `bücher.example` is `xn--bcher-kva.example`),
/// lower-cased, without a trailing dot.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Domain(String);

impl Domain {
    pub fn parse(raw: &str) -> Result<Self, String> {
        const INVALID: &str = "must be a domain name such as example.com";
        let trimmed = raw.trim().trim_end_matches('.');
        if trimmed.is_empty() || trimmed.chars().count() > 253 {
            return Err(INVALID.into());
        }
        // UTS 46 with the STD3 rules: maps case and compatibility forms, encodes Unicode labels
        // as punycode, and refuses what DNS cannot carry.
        let s = idna::domain_to_ascii_strict(trimmed).map_err(|_| INVALID.to_string())?;
        if s.is_empty() || s.len() > 253 {
            return Err(INVALID.into());
        }
        let labels: Vec<&str> = s.split('.').collect();
        if labels.len() < 2 {
            return Err("must be a domain name with at least two labels, such as example.com".into());
        }
        for label in &labels {
            let ok = !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !ok {
                return Err(INVALID.into());
            }
        }
        if labels.last().is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit())) {
            return Err("must be a domain name, not an IP address".into());
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when `other` is this domain or a subdomain of it, by whole labels:
    /// `a.acme.com` is within `acme.com`; `evilacme.com` is not.
    pub fn contains(&self, other: &str) -> bool {
        let other = other.trim_end_matches('.').to_lowercase();
        other == self.0 || other.strip_suffix(&self.0).is_some_and(|rest| rest.ends_with('.'))
    }
}

/// A username: 3 to 32 characters of letters, digits, `.`, `_` and `-`, starting with a letter
/// or digit. Unique per portal regardless of case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim();
        let n = s.chars().count();
        if !(3..=32).contains(&n) {
            return Err("must be 3 to 32 characters".into());
        }
        if !s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')) {
            return Err("may contain only letters, digits, '.', '_' and '-'".into());
        }
        if !s.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err("must start with a letter or digit".into());
        }
        if s.contains('@') {
            return Err("must not contain '@'".into());
        }
        Ok(Self(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }
}

/// A person's display name: 1 to 100 characters, no control characters (so no CR/LF header
/// injection into mail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim();
        if s.is_empty() {
            return Err("is required".into());
        }
        if s.chars().count() > 100 {
            return Err("must be at most 100 characters".into());
        }
        if has_control(s) {
            return Err("must not contain control characters or line breaks".into());
        }
        Ok(Self(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A portal's name, same rules as a person's name.
pub type PortalName = PersonName;

/// A password that passed the strength rules. Never printed: `Debug` is redacted.
#[derive(Clone)]
pub struct Password(String);

pub const PASSWORD_MIN_CHARS: usize = 8;
pub const PASSWORD_MAX_CHARS: usize = 128;

impl Password {
    /// Length rules (8..=128 characters) and a zxcvbn score of at least 3, judged with the
    /// user's own email, username and name as known words.
    pub fn parse(raw: &str, user_inputs: &[&str]) -> Result<Self, String> {
        let n = raw.chars().count();
        if n < PASSWORD_MIN_CHARS {
            return Err(format!("must be at least {PASSWORD_MIN_CHARS} characters"));
        }
        if n > PASSWORD_MAX_CHARS {
            return Err(format!("must be at most {PASSWORD_MAX_CHARS} characters"));
        }
        let inputs: Vec<&str> = user_inputs.iter().copied().filter(|s| !s.is_empty()).collect();
        let entropy = zxcvbn::zxcvbn(raw, &inputs);
        if entropy.score() < zxcvbn::Score::Three {
            let hint = entropy
                .feedback()
                .and_then(|f| f.warning().map(|w| w.to_string()).or_else(|| f.suggestions().first().map(|s| s.to_string())))
                .unwrap_or_else(|| "add more words or characters".into());
            return Err(format!("is too easy to guess: {hint}"));
        }
        Ok(Self(raw.to_string()))
    }

    /// A password held to other rules by the caller (an admin's one-time password).
    pub fn unchecked(raw: &str) -> Self {
        Self(raw.to_string())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// The four states of a developer account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeveloperState {
    Pending,
    Approved,
    Rejected,
    Revoked,
}

impl DeveloperState {
    pub const ALL: [DeveloperState; 4] = [Self::Pending, Self::Approved, Self::Rejected, Self::Revoked];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Revoked => "revoked",
        }
    }

    /// Parses a state as filters and PATCH bodies accept it: case-insensitive, with the
    /// aliases `requested` (= pending) and `active` (= approved).
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "pending" | "requested" => Ok(Self::Pending),
            "approved" | "active" => Ok(Self::Approved),
            "rejected" => Ok(Self::Rejected),
            "revoked" => Ok(Self::Revoked),
            _ => Err("must be one of pending, approved, rejected, revoked (or requested, active)".into()),
        }
    }
}

impl fmt::Display for DeveloperState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_email_is_trimmed_and_normalized_to_lower_case() {
        let e = Email::parse("  Jane.Doe@Example.COM ").unwrap();
        assert_eq!(e.as_str(), "Jane.Doe@example.com");
        assert_eq!(e.normalized(), "jane.doe@example.com");
        assert_eq!(e.domain(), "example.com");
    }

    #[test]
    fn malformed_emails_are_refused() {
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@b",
            "a@@b.com",
            "a b@c.com",
            "a@exa mple.com",
            "a..b@c.com",
            "a@-c.com",
            "a@c.123",
            "a\r\n@c.com",
            "<x>@c.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn a_unicode_local_part_is_refused_because_ses_cannot_deliver_it() {
        let err = Email::parse("jürgen@bücher.example").unwrap_err();
        assert!(err.contains("ASCII"), "{err}");
        assert!(Email::parse("jürgen@example.com").is_err());
        assert!(Email::parse("\u{0430}dmin@example.com").is_err(), "a Cyrillic a");
    }

    #[test]
    fn an_internationalised_domain_is_stored_in_its_ascii_form() {
        let e = Email::parse("Juergen@Bücher.Example").unwrap();
        assert_eq!(e.as_str(), "Juergen@xn--bcher-kva.example");
        assert_eq!(e.domain(), "xn--bcher-kva.example");
        assert_eq!(Email::parse(e.as_str()).unwrap(), e, "the stored form parses to itself");
        assert_eq!(Domain::parse("BÜCHER.example.").unwrap().as_str(), "xn--bcher-kva.example");
        assert_eq!(Domain::parse("xn--bcher-kva.example").unwrap().as_str(), "xn--bcher-kva.example");
        for bad in ["exa_mple.com", "xn--.com", "a..com", "ex ample.com", "a@b.com"] {
            assert!(Domain::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_overlong_email_is_refused() {
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(Email::parse(&long).is_err());
    }

    #[test]
    fn a_domain_contains_itself_and_its_subdomains_but_not_lookalikes() {
        let acme = Domain::parse("ACME.com").unwrap();
        assert!(acme.contains("acme.com"));
        assert!(acme.contains("a.acme.com"));
        assert!(acme.contains("A.B.ACME.COM"));
        assert!(!acme.contains("evilacme.com"));
        assert!(!acme.contains("acme.com.evil.net"));
        assert!(!acme.contains("com"));
    }

    #[test]
    fn usernames_follow_the_character_rules() {
        assert_eq!(Username::parse("jane.smith").unwrap().normalized(), "jane.smith");
        assert_eq!(Username::parse("Jane_Smith-2").unwrap().normalized(), "jane_smith-2");
        for bad in ["ab", ".jane", "jane smith", "jane@x", &"a".repeat(33), "<script>"] {
            assert!(Username::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn names_refuse_line_breaks_and_empty_values() {
        assert!(PersonName::parse("Jane\r\nBcc: x@y.com").is_err());
        assert!(PersonName::parse("   ").is_err());
        assert!(PersonName::parse(&"é".repeat(101)).is_err());
        assert_eq!(PersonName::parse(" <b>Jane</b> ").unwrap().as_str(), "<b>Jane</b>");
    }

    #[test]
    fn weak_and_short_passwords_are_refused_and_strong_ones_accepted() {
        assert!(Password::parse("short", &[]).unwrap_err().contains("at least"));
        assert!(Password::parse("password123", &[]).unwrap_err().contains("too easy"));
        assert!(Password::parse("janedoe2024!", &["janedoe@example.com", "janedoe"]).is_err());
        assert!(Password::parse("correct horse battery staple", &[]).is_ok());
        assert!(Password::parse(&"x".repeat(129), &[]).is_err());
    }

    #[test]
    fn a_password_never_shows_in_debug_output() {
        let p = Password::parse("correct horse battery staple", &[]).unwrap();
        assert!(!format!("{p:?}").contains("horse"));
    }

    #[test]
    fn states_parse_case_insensitively_with_aliases() {
        assert_eq!(DeveloperState::parse("Pending").unwrap(), DeveloperState::Pending);
        assert_eq!(DeveloperState::parse("REQUESTED").unwrap(), DeveloperState::Pending);
        assert_eq!(DeveloperState::parse("active").unwrap(), DeveloperState::Approved);
        assert_eq!(DeveloperState::parse("Rejected").unwrap(), DeveloperState::Rejected);
        assert_eq!(DeveloperState::parse("revoked").unwrap(), DeveloperState::Revoked);
        assert!(DeveloperState::parse("deleted").is_err());
    }
}
