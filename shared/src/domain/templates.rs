//! The mails Gatehouse sends and a portal's override of one of them, as data (rendering and
//! the override policy are in the mail module).

use serde::Serialize;

/// The emails Gatehouse sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MailKind {
    /// To the portal's admins: a developer asks for access.
    AccessRequest,
    /// To the developer: access approved (by an admin or automatically).
    Approved,
    /// To an existing owner: someone tried to register with this address.
    RegistrationAttempted,
    /// To an invitee: a registration link.
    Invite,
    /// To a developer: a password reset link.
    Reset,
    /// To a developer: the password was reset.
    ResetSuccess,
    /// To a self-registered developer: confirm the address.
    Verification,
    /// To a developer: the password was changed through `/me/password`.
    PasswordChanged,
    /// To the portal's admins: a webhook endpoint failed for days and was disabled.
    WebhookDisabled,
}

impl MailKind {
    pub const ALL: [MailKind; 9] = [
        Self::AccessRequest,
        Self::Approved,
        Self::RegistrationAttempted,
        Self::Invite,
        Self::Reset,
        Self::ResetSuccess,
        Self::Verification,
        Self::PasswordChanged,
        Self::WebhookDisabled,
    ];

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::AccessRequest => "access_request",
            Self::Approved => "approved",
            Self::RegistrationAttempted => "registration_attempted",
            Self::Invite => "invite",
            Self::Reset => "reset",
            Self::ResetSuccess => "reset_success",
            Self::Verification => "verification",
            Self::PasswordChanged => "password_changed",
            Self::WebhookDisabled => "webhook_disabled",
        }
    }
}

/// A portal's replacement for some parts of one email. Missing parts keep the default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
}
