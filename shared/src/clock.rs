//! The one time source of every use case and handler.

use crate::domain::Timestamp;

/// The time source. Production uses the system clock; the wiring shifts it by
/// `GATEHOUSE_CLOCK_OFFSET_SECONDS` (local stack only) so expiry can be tested without sleeping.
#[derive(Debug, Clone, Copy, Default)]
pub struct Clock {
    offset_seconds: i64,
}

impl Clock {
    pub fn fixed_offset(offset_seconds: i64) -> Self {
        Self { offset_seconds }
    }
    pub fn now(&self) -> Timestamp {
        chrono::Utc::now() + chrono::Duration::seconds(self.offset_seconds)
    }
}
