//! The core's errors: what went wrong, as kinds, with no HTTP in them. The HTTP edge
//! ([`crate::http`]) maps each kind to its status and RFC 9457 problem.

use crate::domain::FieldError;

pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Every way a use case can refuse or fail. `Display` is the problem's detail sentence.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Fields of the request are invalid (each named with its message).
    #[error("the request has invalid fields")]
    Invalid(Vec<FieldError>),
    /// No valid admin API token was presented.
    #[error("a valid admin API token is required")]
    NoAdminToken,
    /// A developer login or session failed.
    #[error("{0}")]
    Unauthenticated(String),
    /// An attempt over a limit; `retry_after` seconds until the window ends.
    #[error("{detail}")]
    Limited { detail: String, retry_after: u64 },
    #[error("{0}")]
    Forbidden(String),
    /// `what` does not exist (or the caller may not know it does).
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// The request contradicts the current state (a taken name, a decided request, a lost
    /// race): the sentence says which.
    #[error("{0}")]
    Conflict(String),
    /// A single-use thing (a link, an invite) is used, replaced or expired.
    #[error("{0}")]
    Gone(String),
    /// A dependency is unavailable; retrying shortly may work.
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(#[source] BoxError),
}

impl AppError {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(field, message)])
    }

    pub fn internal(e: impl Into<BoxError>) -> Self {
        Self::Internal(e.into())
    }

    pub fn not_found(what: &'static str) -> Self {
        Self::NotFound { what }
    }
}

/// Renders an error with its whole `source()` chain, for logs.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}
