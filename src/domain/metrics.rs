//! Recovery metrics, computed from plain records so the arithmetic is testable without a database.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use serde::Serialize;

use super::recovery;

/// One ordinary failure's recovery case, as the metrics see it.
#[derive(Debug, Clone)]
pub struct RecoveryRecord {
    pub severity: String,
    pub technician: String,
    pub checklist_key: String,
    pub reported_at: NaiveDateTime,
    pub recovered_at: Option<NaiveDateTime>,
    /// Cancelled cases (re-graded safety-critical) are left out.
    pub cancelled: bool,
    /// Whether a personal surprise was given (`None` until decided).
    pub surprise_given: Option<bool>,
    /// The customer's feedback after recovery: satisfaction 1–5 and whether we surprised them.
    pub feedback: Option<(i32, bool)>,
}

/// Recovery within target for a group of cases.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Share {
    /// Cases whose outcome is known: recovered, or past the deadline.
    pub decided: usize,
    pub within_24h: usize,
    /// `within_24h / decided`; null with nothing decided yet.
    pub share_within_24h: Option<f64>,
    /// Cases still open and not yet due.
    pub pending: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RecoverySummary {
    #[serde(flatten)]
    pub overall: Share,
    pub median_hours_to_recovery: Option<f64>,
    /// Share of recovered cases in which a personal surprise was given.
    pub surprise_rate: Option<f64>,
    /// Customers who answered the feedback form after recovery.
    pub feedback_responses: usize,
    /// Their average satisfaction (1–5).
    pub average_satisfaction: Option<f64>,
    /// Share of them who said something we did surprised them.
    pub felt_surprised_rate: Option<f64>,
    pub by_grade: BTreeMap<String, Share>,
    pub by_technician: BTreeMap<String, Share>,
    pub by_checklist: BTreeMap<String, Share>,
}

fn share<'a>(records: impl Iterator<Item = &'a RecoveryRecord>, now: NaiveDateTime) -> Share {
    let (mut decided, mut within, mut pending) = (0, 0, 0);
    for r in records.filter(|r| !r.cancelled) {
        match r.recovered_at {
            Some(at) => {
                decided += 1;
                within += usize::from(recovery::within_target(r.reported_at, at));
            }
            None if now - r.reported_at > recovery::RECOVERY_DEADLINE => decided += 1,
            None => pending += 1,
        }
    }
    let share_within_24h = (decided > 0).then(|| within as f64 / decided as f64);
    Share { decided, within_24h: within, share_within_24h, pending }
}

fn grouped(
    records: &[RecoveryRecord],
    now: NaiveDateTime,
    key: impl Fn(&RecoveryRecord) -> &str,
) -> BTreeMap<String, Share> {
    let mut groups: BTreeMap<String, Vec<&RecoveryRecord>> = BTreeMap::new();
    for r in records {
        groups.entry(key(r).to_owned()).or_default().push(r);
    }
    groups.into_iter().map(|(k, rs)| (k, share(rs.into_iter(), now))).collect()
}

/// Share recovered within 24 hours (overall and by grade, technician and checklist) and the
/// median time to recovery.
pub fn summarise(records: &[RecoveryRecord], now: NaiveDateTime) -> RecoverySummary {
    let mut hours: Vec<f64> = records
        .iter()
        .filter(|r| !r.cancelled)
        .filter_map(|r| r.recovered_at.map(|at| (at - r.reported_at).num_seconds() as f64 / 3600.0))
        .collect();
    hours.sort_by(f64::total_cmp);
    let median = match hours.len() {
        0 => None,
        n if n % 2 == 1 => Some(hours[n / 2]),
        n => Some((hours[n / 2 - 1] + hours[n / 2]) / 2.0),
    };
    let recovered: Vec<&RecoveryRecord> = records.iter().filter(|r| !r.cancelled && r.recovered_at.is_some()).collect();
    let surprised = recovered.iter().filter(|r| r.surprise_given == Some(true)).count();
    let answers: Vec<(i32, bool)> = records.iter().filter(|r| !r.cancelled).filter_map(|r| r.feedback).collect();
    let responses = answers.len() as f64;
    RecoverySummary {
        feedback_responses: answers.len(),
        average_satisfaction: (!answers.is_empty())
            .then(|| answers.iter().map(|&(score, _)| f64::from(score)).sum::<f64>() / responses),
        felt_surprised_rate: (!answers.is_empty())
            .then(|| answers.iter().filter(|&&(_, surprised)| surprised).count() as f64 / responses),
        overall: share(records.iter(), now),
        median_hours_to_recovery: median,
        surprise_rate: (!recovered.is_empty()).then(|| surprised as f64 / recovered.len() as f64),
        by_grade: grouped(records, now, |r| &r.severity),
        by_technician: grouped(records, now, |r| &r.technician),
        by_checklist: grouped(records, now, |r| &r.checklist_key),
    }
}

/// The share recovered within 24 hours of the failures reported on each day, oldest day first
/// (days with no decided case are left out).
pub fn daily_shares(records: &[RecoveryRecord], now: NaiveDateTime) -> Vec<(chrono::NaiveDate, Share)> {
    let mut days: BTreeMap<chrono::NaiveDate, Vec<&RecoveryRecord>> = BTreeMap::new();
    for r in records {
        days.entry(r.reported_at.date()).or_default().push(r);
    }
    days.into_iter().map(|(day, rs)| (day, share(rs.into_iter(), now))).filter(|(_, s)| s.decided > 0).collect()
}

/// Make-safe visits done by their deadline, of those done or already past it. Each visit is its
/// deadline and, once done, when.
pub fn make_safe_on_time(visits: &[(NaiveDateTime, Option<NaiveDateTime>)], now: NaiveDateTime) -> Share {
    let (mut decided, mut within, mut pending) = (0, 0, 0);
    for &(due, done) in visits {
        match done {
            Some(at) => {
                decided += 1;
                within += usize::from(at <= due);
            }
            None if now > due => decided += 1,
            None => pending += 1,
        }
    }
    Share {
        decided,
        within_24h: within,
        share_within_24h: (decided > 0).then(|| within as f64 / decided as f64),
        pending,
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    #[test]
    fn shares_count_only_decided_cases_and_the_median_is_of_recovered_ones() {
        let t0 = chrono::DateTime::from_timestamp(1_772_442_000, 0).unwrap_or_default().naive_utc();
        let record = |tech: &str, recovered_after: Option<i64>, cancelled: bool| RecoveryRecord {
            severity: "nuisance".into(),
            technician: tech.into(),
            checklist_key: "broadband-install".into(),
            reported_at: t0,
            recovered_at: recovered_after.map(|m| t0 + TimeDelta::minutes(m)),
            cancelled,
            surprise_given: recovered_after.map(|m| m < 120),
            feedback: recovered_after.map(|m| if m < 120 { (5, true) } else { (2, false) }),
        };
        let records = vec![
            record("tess", Some(23 * 60 + 59), false),
            record("tess", Some(24 * 60 + 1), false),
            record("tom", Some(60), false),
            record("tom", None, false),
            record("tom", None, true),
        ];
        let at_25h = summarise(&records, t0 + TimeDelta::hours(25));
        assert_eq!((at_25h.overall.decided, at_25h.overall.within_24h, at_25h.overall.pending), (4, 2, 0));
        assert_eq!(at_25h.overall.share_within_24h, Some(0.5));
        assert_eq!(at_25h.by_technician["tom"].share_within_24h, Some(0.5));
        assert_eq!(at_25h.median_hours_to_recovery, Some(23.983_333_333_333_334));
        assert_eq!(at_25h.surprise_rate, Some(1.0 / 3.0));
        assert_eq!(at_25h.feedback_responses, 3);
        assert_eq!(at_25h.average_satisfaction, Some(3.0));
        assert_eq!(at_25h.felt_surprised_rate, Some(1.0 / 3.0));
        let at_2h = summarise(&records, t0 + TimeDelta::hours(2));
        assert_eq!((at_2h.overall.decided, at_2h.overall.pending), (3, 1), "an open case not yet due is pending");
    }

    #[test]
    fn daily_shares_group_by_the_day_reported_and_skip_undecided_days() {
        let day = |d: u32, h: u32| {
            chrono::NaiveDate::from_ymd_opt(2026, 3, d).and_then(|x| x.and_hms_opt(h, 0, 0)).unwrap_or_default()
        };
        let record = |reported: NaiveDateTime, recovered: Option<NaiveDateTime>| RecoveryRecord {
            severity: "nuisance".into(),
            technician: "tess".into(),
            checklist_key: "broadband-install".into(),
            reported_at: reported,
            recovered_at: recovered,
            cancelled: false,
            surprise_given: None,
            feedback: None,
        };
        let records = [
            record(day(1, 9), Some(day(1, 15))),
            record(day(1, 10), Some(day(3, 10))),
            record(day(2, 9), Some(day(2, 10))),
            record(day(4, 9), None),
        ];
        let shares = daily_shares(&records, day(4, 12));
        let figures: Vec<(u32, usize, usize)> =
            shares.iter().map(|(d, s)| (chrono::Datelike::day(d), s.decided, s.within_24h)).collect();
        assert_eq!(figures, vec![(1, 2, 1), (2, 1, 1)], "day 4 is still pending");
    }

    #[test]
    fn make_safe_on_time_counts_done_by_the_deadline_and_overdue_ones_as_late() {
        let t = |h: i64| chrono::DateTime::from_timestamp(1_772_442_000 + h * 3600, 0).unwrap_or_default().naive_utc();
        let visits = [(t(4), Some(t(3))), (t(4), Some(t(5))), (t(2), None), (t(8), None)];
        let on_time = make_safe_on_time(&visits, t(6));
        assert_eq!((on_time.decided, on_time.within_24h, on_time.pending), (3, 1, 1));
    }
}
