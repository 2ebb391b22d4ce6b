//! The developer lifecycle as a pure state machine, and the auto-approval policy.

use super::settings::PortalSettings;
use super::types::{DeveloperState, Email};
use DeveloperState::*;

/// An allowed change of state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub from: DeveloperState,
    pub to: DeveloperState,
}

/// A change the lifecycle forbids (the API answers 409).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a {from} developer cannot become {to}")]
pub struct ForbiddenTransition {
    pub from: DeveloperState,
    pub to: DeveloperState,
}

/// pending → approved | rejected; approved → revoked; rejected → approved;
/// revoked → approved (re-approve); rejected | revoked → pending.
/// Staying in the same state is not a transition: it is refused too, so automation that raced
/// another admin learns it did nothing.
pub fn transition(from: DeveloperState, to: DeveloperState) -> Result<Transition, ForbiddenTransition> {
    let allowed = matches!(
        (from, to),
        (Pending, Approved)
            | (Pending, Rejected)
            | (Approved, Revoked)
            | (Rejected, Approved)
            | (Revoked, Approved)
            | (Rejected, Pending)
            | (Revoked, Pending)
    );
    if allowed {
        Ok(Transition { from, to })
    } else {
        Err(ForbiddenTransition { from, to })
    }
}

/// Only approved developers may log in or hold working credentials.
pub fn may_access(state: DeveloperState) -> bool {
    state == Approved
}

/// Why a registration is approved without an admin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AutoApproval {
    /// The portal's `auto_approve` switch is on.
    PortalSwitch,
    /// The email's domain is (a subdomain of) this trusted domain.
    TrustedDomain(String),
}

impl AutoApproval {
    pub fn describe(&self) -> String {
        match self {
            Self::PortalSwitch => "auto_approve".into(),
            Self::TrustedDomain(d) => format!("trusted_domain:{d}"),
        }
    }
}

/// The auto-approval policy: the portal switch, else a trusted domain matched by whole labels.
pub fn auto_approval(settings: &PortalSettings, email: &Email) -> Option<AutoApproval> {
    if settings.auto_approve {
        return Some(AutoApproval::PortalSwitch);
    }
    settings.trusted_domains.iter().find(|d| d.contains(email.domain())).map(|d| AutoApproval::TrustedDomain(d.as_str().to_string()))
}

/// The auto-approval that applies now, given whether the address is confirmed. A trusted
/// domain proves nothing about an address nobody confirmed, so a domain match always waits for
/// `developer.email_verified`; the portal switch waits only when `require_verified_email` is on.
pub fn auto_approval_now(settings: &PortalSettings, email: &Email, email_verified: bool) -> Option<AutoApproval> {
    match auto_approval(settings, email)? {
        AutoApproval::PortalSwitch if !settings.require_verified_email || email_verified => Some(AutoApproval::PortalSwitch),
        AutoApproval::TrustedDomain(d) if email_verified => Some(AutoApproval::TrustedDomain(d)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::types::Domain;

    #[test]
    fn exactly_the_seven_transitions_of_the_lifecycle_are_allowed() {
        let allowed = [
            (Pending, Approved),
            (Pending, Rejected),
            (Approved, Revoked),
            (Rejected, Approved),
            (Revoked, Approved),
            (Rejected, Pending),
            (Revoked, Pending),
        ];
        for from in DeveloperState::ALL {
            for to in DeveloperState::ALL {
                let result = transition(from, to);
                if allowed.contains(&(from, to)) {
                    assert_eq!(result, Ok(Transition { from, to }), "{from} -> {to} should be allowed");
                } else {
                    assert_eq!(result, Err(ForbiddenTransition { from, to }), "{from} -> {to} should be forbidden");
                }
            }
        }
    }

    #[test]
    fn a_forbidden_transition_explains_itself() {
        let err = transition(Approved, Pending).unwrap_err();
        assert_eq!(err.to_string(), "a approved developer cannot become pending");
    }

    #[test]
    fn staying_in_the_same_state_is_forbidden() {
        for s in DeveloperState::ALL {
            assert!(transition(s, s).is_err());
        }
    }

    #[test]
    fn only_approved_developers_have_access() {
        assert!(may_access(Approved));
        assert!(!may_access(Pending));
        assert!(!may_access(Rejected));
        assert!(!may_access(Revoked));
    }

    fn settings(auto: bool, domains: &[&str]) -> PortalSettings {
        PortalSettings {
            auto_approve: auto,
            trusted_domains: domains.iter().map(|d| Domain::parse(d).unwrap()).collect(),
            ..PortalSettings::default()
        }
    }

    fn email(s: &str) -> Email {
        Email::parse(s).unwrap()
    }

    #[test]
    fn the_portal_switch_approves_everyone() {
        assert_eq!(auto_approval(&settings(true, &[]), &email("x@anything.org")), Some(AutoApproval::PortalSwitch));
    }

    #[test]
    fn without_switch_or_trusted_domains_nobody_is_auto_approved() {
        assert_eq!(auto_approval(&settings(false, &[]), &email("x@acme.com")), None);
    }

    #[test]
    fn a_trusted_domain_approves_its_own_addresses_and_subdomains_in_any_case() {
        let s = settings(false, &["acme.com", "partner.io"]);
        let expected = Some(AutoApproval::TrustedDomain("acme.com".into()));
        assert_eq!(auto_approval(&s, &email("jane@acme.com")), expected);
        assert_eq!(auto_approval(&s, &email("jane@eu.dev.acme.com")), expected);
        assert_eq!(auto_approval(&s, &email("Jane@ACME.COM")), expected);
        assert_eq!(auto_approval(&s, &email("x@partner.io")), Some(AutoApproval::TrustedDomain("partner.io".into())));
    }

    #[test]
    fn look_alike_domains_are_not_trusted() {
        let s = settings(false, &["acme.com"]);
        for e in ["jane@evilacme.com", "jane@acme.com.evil.net", "jane@acme.co", "acme.com@evil.net", "jane@notacme.com"] {
            assert_eq!(auto_approval(&s, &email(e)), None, "{e} must not be auto-approved");
        }
    }

    #[test]
    fn a_trusted_domain_match_waits_for_a_confirmed_address_even_when_verification_is_not_required() {
        for require in [false, true] {
            let s = PortalSettings { require_verified_email: require, ..settings(false, &["acme.com"]) };
            assert_eq!(auto_approval_now(&s, &email("anyone@acme.com"), false), None, "require_verified_email {require}");
            assert_eq!(
                auto_approval_now(&s, &email("anyone@acme.com"), true),
                Some(AutoApproval::TrustedDomain("acme.com".into())),
                "require_verified_email {require}"
            );
        }
    }

    #[test]
    fn the_portal_switch_acts_at_once_only_when_verification_is_not_required() {
        let at_once = PortalSettings { require_verified_email: false, ..settings(true, &["acme.com"]) };
        assert_eq!(auto_approval_now(&at_once, &email("x@acme.com"), false), Some(AutoApproval::PortalSwitch));
        let waits = PortalSettings { require_verified_email: true, ..settings(true, &[]) };
        assert_eq!(auto_approval_now(&waits, &email("x@anything.org"), false), None);
        assert_eq!(auto_approval_now(&waits, &email("x@anything.org"), true), Some(AutoApproval::PortalSwitch));
        assert_eq!(auto_approval_now(&settings(false, &[]), &email("x@acme.com"), true), None);
    }
}
