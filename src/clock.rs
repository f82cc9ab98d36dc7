//! Where "now" comes from. Production reads the system clock; tests set the time.

use std::sync::Mutex;

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};

/// The service's clock, truncated to microseconds (what PostgreSQL stores), so a value read back
/// equals the value written.
pub enum Clock {
    System,
    /// A settable clock for tests and demos.
    Fixed(Mutex<DateTime<Utc>>),
}

impl Clock {
    pub fn fixed(at: DateTime<Utc>) -> Self {
        Self::Fixed(Mutex::new(at.trunc_subsecs(6)))
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Self::System => Utc::now().trunc_subsecs(6),
            Self::Fixed(at) => *at.lock().unwrap_or_else(std::sync::PoisonError::into_inner),
        }
    }

    /// Moves a fixed clock forward (no effect on the system clock).
    pub fn advance(&self, by: TimeDelta) {
        if let Self::Fixed(at) = self {
            let mut at = at.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            *at += by;
        }
    }
}
