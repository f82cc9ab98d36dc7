//! The recovery dashboard, for everyone with console access: the share of failures recovered
//! within 24 hours over time, by technician and by checklist, the headline figures, make-safe
//! visits on time and the checklist items that fail most. Charts are SVG drawn here, each with a
//! table for screen readers.

use crate::domain::make_safe::VisitStatus;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{NaiveDate, TimeDelta};
use maud::{Markup, html};
use serde::Deserialize;

use super::layout;
use super::{ConsoleError, Flash, Staff};
use crate::AppState;
use crate::auth::Role;
use crate::db;
use crate::domain::metrics::{self, RecoverySummary, Share};

struct Dashboard {
    days: i64,
    summary: RecoverySummary,
    daily: Vec<(NaiveDate, Share)>,
    make_safe: Share,
    incidents: i64,
    repeats: i64,
    failing: Vec<(String, String, i64)>,
}

#[derive(Deserialize)]
pub struct DashboardQuery {
    days: Option<i64>,
}

/// `GET /console/dashboard[?days=7|30|90]`
pub async fn page(
    state: web::Data<AppState>,
    req: HttpRequest,
    staff: Staff,
    query: web::Query<DashboardQuery>,
) -> Result<HttpResponse, ConsoleError> {
    staff.require(&[Role::Dispatcher, Role::SafetyOfficer, Role::Admin])?;
    let days = query.days.filter(|d| [7, 30, 90].contains(d)).unwrap_or(30);
    let app = state.clone();
    let data = state
        .db
        .run(move |conn| -> Result<_, ConsoleError> {
            let now = app.clock.now().naive_utc();
            let from = now - TimeDelta::days(days);
            let records = db::metrics::recovery_records(conn, from)?;
            let (incidents, repeats) = db::metrics::repeat_counts(conn, from)?;
            let visits: Vec<_> = db::safety::visits(
                conn,
                &[VisitStatus::Open, VisitStatus::Assigned, VisitStatus::Done],
                None,
                100_000,
            )?
            .into_iter()
            .filter(|v| v.created_at >= from)
            .map(|v| (v.due_at, (v.status == VisitStatus::Done).then_some(v.updated_at)))
            .collect();
            Ok(Dashboard {
                days,
                summary: metrics::summarise(&records, now),
                daily: metrics::daily_shares(&records, now),
                make_safe: metrics::make_safe_on_time(&visits, now),
                incidents,
                repeats,
                failing: db::metrics::failing_items(conn, from, 10)?,
            })
        })
        .await?;
    let body = render(&data);
    Ok(super::page(&req, layout::shell(&staff, "Recovery dashboard", Flash::read(&req), body)))
}

fn percent(share: Option<f64>) -> String {
    share.map_or("–".to_owned(), |s| format!("{:.0} %", s * 100.0))
}

fn render(d: &Dashboard) -> Markup {
    let s = &d.summary;
    html! {
        h1 { "Recovery dashboard" }
        nav aria-label="Window" {
            "Last: "
            @for window in [7, 30, 90] {
                @if window == d.days { strong aria-current="page" { (window) " days" } } @else { a href={ "/console/dashboard?days=" (window) } { (window) " days" } }
                " "
            }
        }
        section class="card" aria-labelledby="headline" {
            h2 id="headline" { "Headline figures" }
            dl class="facts" {
                dt { "Recovered within 24 h" } dd { (percent(s.overall.share_within_24h)) " (" (s.overall.within_24h) " of " (s.overall.decided) ", " (s.overall.pending) " still open)" }
                dt { "Median time to recovery" } dd { (s.median_hours_to_recovery.map_or("–".to_owned(), |h| format!("{h:.1} h"))) }
                dt { "Surprise rate" } dd { (percent(s.surprise_rate)) }
                dt { "Customers who felt surprised" } dd { (percent(s.felt_surprised_rate)) }
                dt { "Satisfaction" } dd { (s.average_satisfaction.map_or("–".to_owned(), |a| format!("{a:.1} / 5"))) " from " (s.feedback_responses) " answers" }
                dt { "Repeat rate" } dd { (percent((d.incidents > 0).then(|| d.repeats as f64 / d.incidents as f64))) " (" (d.repeats) " of " (d.incidents) " incidents)" }
                dt { "Make-safe visits on time" } dd { (percent(d.make_safe.share_within_24h)) " (" (d.make_safe.within_24h) " of " (d.make_safe.decided) ")" }
            }
        }
        section class="card" aria-labelledby="over-time" {
            h2 id="over-time" { "Recovered within 24 hours, by day reported" }
            (line_chart(&d.daily))
            table class="sr-only" {
                caption { "Share recovered within 24 hours by day reported" }
                thead { tr { th scope="col" { "Day" } th scope="col" { "Recovered within 24 h" } th scope="col" { "Cases decided" } } }
                tbody { @for (day, share) in &d.daily { tr { td { (day) } td { (percent(share.share_within_24h)) } td { (share.decided) } } } }
            }
        }
        div class="grid" {
            section class="card" aria-labelledby="by-technician" {
                h2 id="by-technician" { "By technician" }
                (share_table("Technician", &s.by_technician))
            }
            section class="card" aria-labelledby="by-checklist" {
                h2 id="by-checklist" { "By checklist" }
                (share_table("Checklist", &s.by_checklist))
            }
        }
        section class="card" aria-labelledby="failing" {
            h2 id="failing" { "Checklist items that fail most" }
            (bar_chart(&d.failing))
            table class="sr-only" {
                caption { "Failures per checklist item" }
                thead { tr { th scope="col" { "Checklist" } th scope="col" { "Item" } th scope="col" { "Failures" } } }
                tbody { @for (checklist, item, n) in &d.failing { tr { td { (checklist) } td { (item) } td { (n) } } } }
            }
        }
    }
}

fn share_table(what: &str, shares: &std::collections::BTreeMap<String, Share>) -> Markup {
    html! {
        @if shares.is_empty() { p class="muted" { "No cases in this window." } } @else {
            table {
                thead { tr { th scope="col" { (what) } th scope="col" { "Within 24 h" } th scope="col" { "Decided" } th scope="col" { "Open" } } }
                tbody { @for (key, share) in shares { tr { td { (key) } td { (percent(share.share_within_24h)) } td { (share.decided) } td { (share.pending) } } } }
            }
        }
    }
}

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 200.0;
const PAD: f64 = 36.0;

/// The daily share as a line, 0 to 100 %, one point per day with a decided case.
fn line_chart(daily: &[(NaiveDate, Share)]) -> Markup {
    if daily.is_empty() {
        return html! { p class="muted" { "No decided cases in this window yet." } };
    }
    let (first, last) = (daily[0].0, daily[daily.len() - 1].0);
    let span = (last - first).num_days().max(1) as f64;
    let x = |day: NaiveDate| PAD + (day - first).num_days() as f64 / span * (WIDTH - 2.0 * PAD);
    let y = |share: f64| HEIGHT - PAD - share * (HEIGHT - 2.0 * PAD);
    let points: Vec<(f64, f64, String)> = daily
        .iter()
        .map(|(day, s)| {
            let share = s.share_within_24h.unwrap_or(0.0);
            (x(*day), y(share), format!("{day}: {:.0} % of {}", share * 100.0, s.decided))
        })
        .collect();
    let line: Vec<String> = points.iter().map(|(px, py, _)| format!("{px:.1},{py:.1}")).collect();
    html! {
        svg class="chart" viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } role="img" aria-label="Line chart of the share recovered within 24 hours by day; the table below gives the figures" {
            @for share in [0.0, 0.5, 1.0] {
                line x1=(PAD) x2=(WIDTH - PAD) y1=(y(share)) y2=(y(share)) class="grid-line" {}
                text x="2" y=(y(share) + 4.0) class="axis" { (format!("{:.0}%", share * 100.0)) }
            }
            polyline points=(line.join(" ")) class="series" {}
            @for (px, py, label) in &points { circle cx=(format!("{px:.1}")) cy=(format!("{py:.1}")) r="4" class="point" { title { (label) } } }
            text x=(PAD) y=(HEIGHT - 8.0) class="axis" { (first) }
            text x=(WIDTH - PAD) y=(HEIGHT - 8.0) class="axis end" { (last) }
        }
    }
}

/// Failures per checklist item as horizontal bars, most first.
fn bar_chart(failing: &[(String, String, i64)]) -> Markup {
    if failing.is_empty() {
        return html! { p class="muted" { "No checklist item failed in this window." } };
    }
    let most = failing.iter().map(|(_, _, n)| *n).max().unwrap_or(1).max(1) as f64;
    let row = 26.0;
    let label = 260.0;
    let height = row * failing.len() as f64 + 8.0;
    html! {
        svg class="chart" viewBox={ "0 0 " (WIDTH) " " (height) } role="img" aria-label="Bar chart of failures per checklist item; the table below gives the figures" {
            @for (i, (checklist, item, n)) in failing.iter().enumerate() {
                @let top = 4.0 + row * i as f64;
                text x="0" y=(top + 16.0) class="axis" { (item) }
                rect x=(label) y=(top) height=(row - 8.0) width=(format!("{:.1}", (*n as f64 / most) * (WIDTH - label - 40.0))) class="bar" { title { (checklist) " / " (item) ": " (n) } }
                text x=(format!("{:.1}", label + 6.0 + (*n as f64 / most) * (WIDTH - label - 40.0))) y=(top + 14.0) class="axis" { (n) }
            }
        }
    }
}
