//! The one time source of every use case and handler.

use crate::domain::Timestamp;

/// The time source. Production uses the system clock; `GATEHOUSE_CLOCK_OFFSET_SECONDS`
/// shifts it (local stack only) so expiry can be tested without sleeping.
#[derive(Debug, Clone, Copy, Default)]
pub struct Clock {
    offset_seconds: i64,
}

impl Clock {
    pub fn from_env() -> Self {
        Self { offset_seconds: std::env::var("GATEHOUSE_CLOCK_OFFSET_SECONDS").ok().and_then(|v| v.parse().ok()).unwrap_or(0) }
    }
    pub fn fixed_offset(offset_seconds: i64) -> Self {
        Self { offset_seconds }
    }
    pub fn now(&self) -> Timestamp {
        chrono::Utc::now() + chrono::Duration::seconds(self.offset_seconds)
    }
}
