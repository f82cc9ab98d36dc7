//! The page shell: head, navigation for the signed-in role, the outcome of the last action, and
//! small formatting helpers shared by the pages.

use chrono::{DateTime, NaiveDateTime, Utc};
use maud::{DOCTYPE, Markup, html};

use super::{Flash, Staff};
use crate::auth::Role;

/// The root causes an audit or an explanation names, as (value, label).
pub const ROOT_CAUSES: [(&str, &str); 9] = [
    ("procedure_not_followed", "Procedure not followed"),
    ("checklist_unclear", "Checklist unclear"),
    ("checklist_missing_item", "Checklist missing an item"),
    ("training_gap", "Training gap"),
    ("equipment_fault", "Equipment fault"),
    ("time_pressure", "Time pressure"),
    ("parts_or_materials", "Parts or materials"),
    ("communication", "Communication"),
    ("other", "Other"),
];

fn head(title: &str, scripts: bool) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            @if scripts {
                meta name="htmx-config" content=r#"{"includeIndicatorStyles":false,"allowEval":false}"#;
            }
            title { (title) " · fieldproof" }
            link rel="stylesheet" href="/console/assets/console.css";
            @if scripts { script src="/console/assets/htmx.min.js" defer {} }
        }
    }
}

/// A page outside the signed-in shell (login, errors).
pub fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, false))
            body { (body) }
        }
    }
}

/// A signed-in page: navigation, the flash, then `body` inside `main`.
pub fn shell(staff: &Staff, title: &str, flash: Option<Flash>, body: Markup) -> Markup {
    let role = staff.user.role;
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, true))
            body {
                header class="top" {
                    nav aria-label="Console" {
                        a class="brand" href="/console" { "fieldproof" }
                        @if matches!(role, Role::Dispatcher | Role::Admin | Role::SafetyOfficer) {
                            a href="/console/queue" { "Work queue" }
                        }
                        @if matches!(role, Role::SafetyOfficer | Role::Admin) {
                            a href="/console/safety" { "Safety" }
                        }
                        a href="/console/dashboard" { "Dashboard" }
                        @if role == Role::Admin {
                            a href="/console/users" { "Users" }
                            a href="/console/checklists" { "Checklists" }
                        }
                    }
                    form class="signout" method="post" action="/console/logout" {
                        input type="hidden" name="csrf" value=(staff.csrf);
                        span { (staff.user.username) " · " (role_label(role)) }
                        button type="submit" { "Sign out" }
                    }
                }
                main {
                    @match flash {
                        Some(Flash::Done(text)) => p class="flash done" role="status" { (text) },
                        Some(Flash::Failed(text)) => p class="flash failed" role="alert" { (text) },
                        None => {},
                    }
                    (body)
                }
            }
        }
    }
}

/// The hidden CSRF field every form carries.
pub fn csrf(staff: &Staff) -> Markup {
    html! { input type="hidden" name="csrf" value=(staff.csrf); }
}

pub fn role_label(role: Role) -> &'static str {
    match role {
        Role::Technician => "technician",
        Role::Dispatcher => "dispatcher",
        Role::SafetyOfficer => "safety officer",
        Role::Admin => "admin",
    }
}

pub fn severity_label(severity: &str) -> &'static str {
    match severity {
        "safety_critical" => "Safety-critical",
        "service_impacting" => "Service-impacting",
        "nuisance" => "Nuisance",
        _ => "Ungraded",
    }
}

/// A UTC time as people read it.
pub fn when(at: NaiveDateTime) -> String {
    at.format("%d %b %Y %H:%M UTC").to_string()
}

/// How urgent a deadline is: past it, within `soon` of it, or on track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    Overdue,
    DueSoon,
    OnTrack,
}

impl Clock {
    pub fn of(due: NaiveDateTime, now: DateTime<Utc>, soon: chrono::TimeDelta) -> Self {
        let left = due - now.naive_utc();
        if left < chrono::TimeDelta::zero() {
            Self::Overdue
        } else if left <= soon {
            Self::DueSoon
        } else {
            Self::OnTrack
        }
    }

    pub fn class(self) -> &'static str {
        match self {
            Self::Overdue => "overdue",
            Self::DueSoon => "due-soon",
            Self::OnTrack => "on-track",
        }
    }
}

/// "2 h 05 min left" or "35 min overdue".
pub fn time_left(due: NaiveDateTime, now: DateTime<Utc>) -> String {
    let left = due - now.naive_utc();
    let minutes = left.num_minutes().abs();
    let span =
        if minutes >= 60 { format!("{} h {:02} min", minutes / 60, minutes % 60) } else { format!("{minutes} min") };
    if left < chrono::TimeDelta::zero() { format!("{span} overdue") } else { format!("{span} left") }
}

/// The countdown badge for a deadline.
pub fn countdown(due: NaiveDateTime, now: DateTime<Utc>, soon: chrono::TimeDelta) -> Markup {
    let clock = Clock::of(due, now, soon);
    html! {
        span class={ "clock " (clock.class()) } title=(when(due)) {
            (time_left(due, now))
        }
    }
}
