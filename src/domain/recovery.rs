//! The customer-recovery clock: a failure is recovered within target when it is fixed, apologised
//! for and its remedy settled no later than 24 hours after it was reported.

use chrono::{NaiveDateTime, TimeDelta};

/// The recovery target, counted from the report.
pub const TARGET: TimeDelta = TimeDelta::hours(24);
/// How close to the deadline a case is flagged as due soon.
pub const DUE_SOON: TimeDelta = TimeDelta::hours(4);

/// Where an open case stands against its deadline at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    OnTrack,
    DueSoon,
    Overdue,
}

pub fn urgency(due_at: NaiveDateTime, now: NaiveDateTime) -> Urgency {
    let left = due_at - now;
    if left < TimeDelta::zero() {
        Urgency::Overdue
    } else if left <= DUE_SOON {
        Urgency::DueSoon
    } else {
        Urgency::OnTrack
    }
}

/// Whether a case recovered at `recovered_at` met the target of one reported at `reported_at`.
pub fn within_target(reported_at: NaiveDateTime, recovered_at: NaiveDateTime) -> bool {
    recovered_at - reported_at <= TARGET
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_is_24_hours_to_the_minute() {
        let reported = chrono::DateTime::from_timestamp(1_772_442_000, 0).unwrap_or_default().naive_utc();
        assert!(within_target(reported, reported + TimeDelta::minutes(23 * 60 + 59)));
        assert!(within_target(reported, reported + TARGET));
        assert!(!within_target(reported, reported + TimeDelta::minutes(24 * 60 + 1)));
        let due = reported + TARGET;
        assert_eq!(urgency(due, reported), Urgency::OnTrack);
        assert_eq!(urgency(due, reported + TimeDelta::hours(21)), Urgency::DueSoon);
        assert_eq!(urgency(due, reported + TimeDelta::hours(25)), Urgency::Overdue);
    }
}
