//! The console in a real headless Chromium: dispatchers and safety officers work through the
//! pages as they would all day; every page is checked with axe-core and photographed.

use crate::common;

use actix_web::http::Method;
use rstest::rstest;
use serde_json::{Value, json};

use common::Backend::{self, Postgres, Sqlite};
use common::TestApp;
use common::browser::Browser;

const GAS: &str = "gas-boiler-annual-service";

async fn report(app: &TestApp, job: &Value, description: &str, items: &[&str]) -> Value {
    let body =
        json!({ "id": uuid::Uuid::new_v4(), "job_id": job["id"], "description": description, "item_ids": items });
    let response = app.as_user("dana").post("/v1/failures", &body).await;
    assert_eq!(response.status, actix_web::http::StatusCode::CREATED, "{}", response.text());
    response.json()
}

async fn incident(app: &TestApp, id: &str) -> Value {
    app.as_user("dana").get(&format!("/v1/incidents/{id}")).await.json()
}

/// The number of rows in the work queue as the browser shows it now.
async fn queue_rows(browser: &Browser) -> usize {
    browser.client.find_all(fantoccini::Locator::Css("#queue tbody tr")).await.expect("rows").len()
}

#[rstest]
#[actix_web::test]
async fn dispatcher_takes_a_new_safety_critical_report_from_the_top_of_the_queue(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let app = spawn_app!(backend);
    let mut browser = open_browser!(app, &format!("dispatcher-safety-{backend:?}"));
    let ordinary = app.issue_job("tess", "broadband-install").await;
    report(&app, &ordinary, "no internet since the install", &[]).await;

    browser.sign_in("dana").await;
    assert_eq!(browser.path().await, "/console/queue");
    let before = queue_rows(&browser).await;
    browser.check_page("queue").await;

    // A safety-critical report arrives while the page is open: it appears at the top, unreloaded.
    let job = app.issue_job("tess", GAS).await;
    let graded = report(&app, &job, "customer smells gas near the boiler", &["gas-tightness-test"]).await;
    assert_eq!(graded["severity"], "safety_critical");
    let incident_id = graded["incident_id"].as_str().unwrap().to_owned();
    let mut rows = before;
    for _ in 0..40 {
        rows = queue_rows(&browser).await;
        if rows > before {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert_eq!(rows, before + 1, "the new report appeared without a reload");
    let top = browser.text("#queue tbody tr:first-child").await;
    assert!(top.contains("Safety-critical") && top.contains("make-safe"), "{top}");
    browser.screenshot("queue-with-new-report").await;
    assert!(browser.fits_width(768).await, "the queue fits a tablet");

    browser.submit("#queue tbody tr:first-child a").await;
    assert_eq!(browser.path().await, format!("/console/incidents/{incident_id}"));
    let marked = browser.text("blockquote mark").await;
    assert!(marked.to_lowercase().contains("gas"), "the words that fired a rule are marked: {marked}");
    browser.check_page("incident").await;
    assert!(browser.fits_width(768).await, "the incident page fits a tablet");

    browser.submit("form[action$='/acknowledge'] button").await;
    assert_eq!(browser.flash().await, "Acknowledged.");
    browser.select("#visit-technician", "tom").await;
    browser.submit("form[action*='/make-safe/'] button").await;
    assert_eq!(browser.flash().await, "Make-safe visit assigned to tom.");
    browser.check_page("incident-acknowledged").await;

    let after = incident(&app, &incident_id).await;
    assert_eq!(after["status"], "acknowledged");
    let actions: Vec<&str> =
        after["history"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"incident.acknowledged"), "{actions:?}");
    let visits = app.as_user("dana").get("/v1/make-safe-visits?status=assigned").await.json();
    assert_eq!(visits["items"][0]["incident_id"], incident_id.as_str(), "{visits}");
    browser.close().await;
}

#[rstest]
#[actix_web::test]
async fn safety_officer_audits_the_incident_and_records_the_training(#[values(Sqlite)] backend: Backend) {
    let app = spawn_app!(backend);
    let mut browser = open_browser!(app, "safety-officer");
    let job = app.issue_job("tess", GAS).await;
    let graded = report(&app, &job, "customer smells gas near the boiler", &["gas-tightness-test"]).await;
    let incident_id = graded["incident_id"].as_str().unwrap().to_owned();

    browser.sign_in("sam").await;
    assert_eq!(browser.path().await, "/console/safety");
    browser.check_page("safety").await;
    browser.submit(&format!("a[href='/console/safety?audit={incident_id}']")).await;
    browser.select("#root-cause", "procedure_not_followed").await;
    browser.fill("#root-cause-detail", "The tightness test was skipped to save time on a busy day.").await;
    browser.fill("#corrective", "Toolbox talk on tightness testing\nManometer check added to the van audit").await;
    browser.check_page("audit-form").await;
    browser.submit("form[action$='/audit'] button").await;
    assert_eq!(browser.flash().await, "Audit recorded.");

    browser.fill("input[name=note]", "Observed tightness test on a training rig").await;
    browser.submit("form[action$='/done'] button").await;
    assert_eq!(browser.flash().await, "Training recorded.");
    browser.check_page("training-done").await;

    // The audit opened a fair disciplinary review: behaviour, then the system's part, then the decision.
    browser.submit("a[href^='/console/cases/']").await;
    browser.click("#behaviour-0").await;
    browser.click("#factor-4").await;
    browser.check_page("disciplinary-review").await;
    browser.submit("form[action$='/review'] button").await;
    assert_eq!(browser.flash().await, "Recorded.");
    browser.select("#outcome", "written_warning").await;
    browser.fill("#outcome-reason", "Skipped the tightness test under time pressure").await;
    browser.submit("form[action$='/decide'] button").await;
    assert!(browser.text("main").await.contains("a second safety officer must approve it"));
    browser.submit("form[action$='/approve'] button").await;
    assert!(browser.flash().await.contains("second safety officer"), "{}", browser.flash().await);
    browser.check_page("disciplinary-awaiting-approval").await;

    let audit = app.as_user("sam").get(&format!("/v1/incidents/{incident_id}/audit-file")).await.json();
    assert_eq!(audit["audit"]["root_cause"], "procedure_not_followed", "{audit}");
    let retraining = app.as_user("sam").get("/v1/retraining").await.json();
    assert_eq!(
        (retraining["items"][0]["status"].as_str(), retraining["items"][0]["trained_by"].as_str()),
        (Some("trained"), Some("sam"))
    );
    browser.close().await;
}

#[rstest]
#[actix_web::test]
async fn dispatcher_takes_an_ordinary_failure_from_report_to_recovered(#[values(Sqlite)] backend: Backend) {
    let app = spawn_app!(backend);
    let mut browser = open_browser!(app, "recovery");
    let job = app.issue_job("tess", "broadband-install").await;
    let graded = report(&app, &job, "no internet since the install", &[]).await;
    assert_eq!(graded["severity"], "service_impacting");

    browser.sign_in("dana").await;
    browser.submit("#queue a[href^='/console/recovery/']").await;
    let case_path = browser.path().await;
    browser.check_page("recovery-case").await;

    // The company-voice check refuses an apology that blames a colleague; the text stays.
    browser.fill("#apology-text", "Sorry, Tess forgot to activate your line.").await;
    browser.submit("form[action$='/apology'] button").await;
    assert!(browser.text("#apology-error").await.contains("apologise as the company"));
    assert_eq!(
        browser.find("#apology-text").await.prop("value").await.unwrap().as_deref(),
        Some("Sorry, Tess forgot to activate your line.")
    );
    browser.check_page("apology-refused").await;
    browser.fill("#apology-text", "Dear Amelia, we are sorry you have been without broadband since our visit.").await;
    browser.submit("form[action$='/apology'] button").await;
    assert_eq!(browser.flash().await, "Apology sent.");

    browser.click("#remedy-0").await;
    browser.submit("form[action$='/remedy'] button").await;
    assert_eq!(browser.flash().await, "Remedy recorded.");
    browser.submit("form[action$='/fixed'] button").await;
    assert_eq!(browser.flash().await, "Marked fixed.");
    browser.select("#root-cause", "procedure_not_followed").await;
    browser.fill("#what-went-wrong", "The line was not activated at the exchange after the install.").await;
    browser.fill("#what-changed", "Activation is now a required checklist step before we leave.").await;
    browser.submit("form[action$='/explanation'] button").await;
    assert_eq!(browser.flash().await, "Explanation sent.");
    browser.check_page("recovered").await;

    let case_id = case_path.rsplit('/').next().unwrap();
    let cases = app.as_user("dana").get("/v1/recovery-cases?status=recovered").await.json();
    let case = cases["items"].as_array().unwrap().iter().find(|c| c["id"] == case_id).expect("the case is recovered");
    assert_eq!(case["recovered_within_target"], true);
    assert!(case["explained_at"].is_string() && case["remedy_id"].is_string(), "{case}");
    browser.close().await;
}

#[rstest]
#[actix_web::test]
async fn technicians_and_signed_out_visitors_are_kept_out(#[values(Sqlite)] backend: Backend) {
    let app = spawn_app!(backend);
    let mut browser = open_browser!(app, "kept-out");
    browser.goto("/").await;
    assert_eq!(browser.path().await, "/console/login", "a visitor is sent to sign in");
    browser.check_page("login").await;
    for page in ["/console/queue", "/console/safety", "/console/incidents/0192f000-0000-7000-8000-000000000000"] {
        browser.goto(page).await;
        assert_eq!(browser.path().await, "/console/login", "{page} without a session");
    }
    browser.sign_in("nobody").await;
    assert_eq!(browser.flash().await, "Unknown username or wrong password.");
    browser.sign_in("tess").await;
    assert!(browser.flash().await.contains("Technicians work in the fieldproof app"));
    browser.goto("/console/queue").await;
    assert_eq!(browser.path().await, "/console/login", "the technician got no session");

    browser.sign_in("dana").await;
    browser.goto("/console/safety").await;
    assert_eq!(browser.text("h1").await, "Not for your role", "a dispatcher does not audit");
    browser.goto("/console/queue").await;
    browser.submit("header form.signout button").await;
    browser.goto("/console/queue").await;
    assert_eq!(browser.path().await, "/console/login", "signed out");
    browser.close().await;
}

#[rstest]
#[actix_web::test]
async fn a_stale_page_says_someone_else_changed_it(#[values(Sqlite)] backend: Backend) {
    let app = spawn_app!(backend);
    let mut browser = open_browser!(app, "stale");
    let job = app.issue_job("tess", "broadband-install").await;
    let graded = report(&app, &job, "no internet since the install", &[]).await;
    let incident_id = graded["incident_id"].as_str().unwrap().to_owned();

    browser.sign_in("dana").await;
    browser.goto(&format!("/console/incidents/{incident_id}")).await;
    // A colleague assigns it through the API while this page is open.
    let path = format!("/v1/incidents/{incident_id}/assign");
    let assigned = app
        .as_user("sam")
        .call_with(Method::POST, &path, &[("If-Match", "*")], Some(&json!({ "assignee": "sam" })))
        .await;
    assert_eq!(assigned.status, actix_web::http::StatusCode::OK);

    browser.submit("form[action$='/acknowledge'] button").await;
    assert!(browser.flash().await.starts_with("Someone else changed this"), "{}", browser.flash().await);
    browser.check_page("stale").await;
    assert_eq!(incident(&app, &incident_id).await["status"], "assigned", "the colleague's change stands");
    browser.close().await;
}

#[rstest]
#[actix_web::test]
async fn admin_manages_users_and_reads_any_checklist_version(#[values(Sqlite)] backend: Backend) {
    let app = spawn_app!(backend);
    let mut browser = open_browser!(app, "admin");
    let toms_token = app.token("tom");
    browser.sign_in("ada").await;
    browser.goto("/console/users").await;
    browser.check_page("users").await;
    browser.fill("#new-username", "nina").await;
    browser.fill("#new-display-name", "Nina Patel").await;
    browser.select("#new-role", "dispatcher").await;
    browser.fill("#new-password", "a long enough first password").await;
    browser.submit("form[action='/console/users'] button").await;
    assert_eq!(browser.flash().await, "Added nina.");

    let tom = app.user_id("tom");
    browser.select(&format!("#active-{tom}"), "false").await;
    browser.submit(&format!("form[action='/console/users/{tom}'] button")).await;
    assert_eq!(browser.flash().await, "Saved.");
    let refused = app.get("/v1/me/jobs", &toms_token).await;
    assert_eq!(refused.status, actix_web::http::StatusCode::UNAUTHORIZED, "a deactivated account's session ended");

    browser.goto("/console/checklists").await;
    browser.check_page("checklists").await;
    browser.submit("a[href='/console/checklists/gas-boiler-annual-service/v1']").await;
    assert!(browser.text("h1").await.ends_with("v1"));
    assert!(browser.text("main table").await.contains("gas-tightness-test"));
    browser.check_page("checklist-version").await;
    browser.close().await;
}

#[rstest]
#[actix_web::test]
async fn dashboard_charts_recovery_with_a_table_behind_each_chart(#[values(Sqlite)] backend: Backend) {
    let app = spawn_app!(backend);
    let mut browser = open_browser!(app, "dashboard");
    let job = app.issue_job("tess", "broadband-install").await;
    let graded = report(&app, &job, "no internet since the install", &[]).await;
    let cases = app.as_user("dana").get("/v1/recovery-cases").await.json();
    let case =
        cases["items"].as_array().unwrap().iter().find(|c| c["incident_id"] == graded["incident_id"]).unwrap().clone();
    let base = format!("/v1/recovery-cases/{}", case["id"].as_str().unwrap());
    let dana = app.as_user("dana");
    dana.post(&format!("{base}/apology"), &json!({})).await;
    let remedies = dana.get(&format!("{base}/remedies")).await.json();
    dana.post(&format!("{base}/remedy"), &json!({ "remedy_id": remedies["options"][0]["id"] })).await;
    let fixed = dana.post(&format!("{base}/fixed"), &json!({})).await.json();
    assert_eq!(fixed["status"], "recovered", "{fixed}");

    browser.sign_in("dana").await;
    browser.goto("/console/dashboard?days=7").await;
    assert!(browser.text("#headline + dl").await.contains("100 % (1 of 1"), "{}", browser.text("main").await);
    browser.find("svg.chart circle").await;
    let table = browser.find("table.sr-only").await.prop("textContent").await.unwrap().unwrap_or_default();
    assert!(table.contains("2026-03-02") && table.contains("100 %"), "{table}");
    browser.check_page("dashboard").await;
    browser.close().await;
}

#[rstest]
#[actix_web::test]
async fn a_session_past_half_its_life_is_renewed_and_an_ended_one_is_not(#[values(Sqlite)] backend: Backend) {
    let app = spawn_app!(backend);
    let page = |token: String| {
        actix_web::test::TestRequest::get()
            .uri("/console/queue")
            .cookie(actix_web::cookie::Cookie::new("fieldproof_session", token))
    };
    let renewed = |response: &common::Response| {
        response
            .headers
            .get_all("set-cookie")
            .filter_map(|v| v.to_str().ok())
            .any(|c| c.starts_with("fieldproof_session="))
    };
    let fresh = app.send(page(app.token("dana"))).await;
    assert_eq!((fresh.status.as_u16(), renewed(&fresh)), (200, false), "a fresh session is kept");
    let older = app.token_issued_at("dana", chrono::Utc::now() - chrono::TimeDelta::minutes(10));
    let aged = app.send(page(older.clone())).await;
    assert_eq!((aged.status.as_u16(), renewed(&aged)), (200, true), "two thirds of 15 minutes spent: renewed");

    app.as_user("dana").post("/v1/auth/logout-all", &json!({})).await;
    app.forget_token("dana");
    app.state.sessions.forget(&app.user_id("dana"));
    let ended = app.send(page(older)).await;
    assert_eq!(
        (ended.status.as_u16(), ended.header("location").as_deref(), renewed(&ended)),
        (303, Some("/console/login"), false),
        "signing out everywhere ends the console session too"
    );
}
