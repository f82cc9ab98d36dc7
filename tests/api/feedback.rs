//! After recovery the customer gets a feedback link: signed, single-use, expiring, one screen
//! (satisfaction 1–5, "did anything we did surprise you?", a comment). Answers feed the metrics.

use crate::common;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use chrono::TimeDelta;
use rstest::rstest;
use serde_json::{Value, json};

use common::Backend::{self, Postgres, Sqlite};
use common::receivers::WebhookReceiver;
use common::{Response, TestApp};
use fieldproof::config::{OutboxSettings, WebhookTarget};
use fieldproof::outbox::Outbox;

/// Reports an ordinary failure and takes its case through the fix, the remedy, the apology and the
/// explanation (the explanation last, or before the apology); returns the case.
async fn recovered_case(app: &TestApp, explanation_last: bool) -> Value {
    let job = app.issue_job("tess", "broadband-install").await;
    let failure =
        json!({ "id": uuid::Uuid::new_v4(), "job_id": job["id"], "description": "router left in the hallway" });
    let reported = app.as_user("dana").post("/v1/failures", &failure).await.json();
    let cases = app.as_user("dana").get("/v1/recovery-cases").await.json();
    let case = cases["items"].as_array().unwrap().iter().find(|c| c["incident_id"] == reported["incident_id"]).unwrap();
    let base = format!("/v1/recovery-cases/{}", case["id"].as_str().unwrap());
    let dana = app.as_user("dana");
    dana.post(&format!("{base}/fixed"), &json!({})).await;
    let offer = dana.get(&format!("{base}/remedies")).await.json();
    let within_limit = offer["options"].as_array().unwrap().iter().find(|o| o["needs_approval"] == false).unwrap();
    dana.post(&format!("{base}/remedy"), &json!({ "remedy_id": within_limit["id"] })).await;
    let explanation = json!({ "root_cause": "procedure_not_followed",
        "what_went_wrong": "The router was left unmounted in the hallway.",
        "what_changed": "Mounting the router is now a checklist step with a photo." });
    let explain = async || {
        let explained = dana.post(&format!("{base}/explanation"), &explanation).await;
        assert_eq!(explained.status, StatusCode::OK, "{}", explained.text());
    };
    if !explanation_last {
        explain().await;
    }
    let apologised = dana.post(&format!("{base}/apology"), &json!({})).await;
    assert_eq!(apologised.json()["status"], "recovered", "{}", apologised.text());
    if explanation_last {
        assert_eq!(kinds(app, case).await, ["apology"], "no feedback request before the explanation");
        explain().await;
        assert_eq!(kinds(app, case).await, ["feedback_request", "explanation", "apology"], "newest first");
    } else {
        assert_eq!(kinds(app, case).await, ["feedback_request", "apology", "explanation"], "the apology goes first");
    }
    apologised.json()
}

async fn messages(app: &TestApp, case: &Value) -> Vec<Value> {
    let path = format!("/v1/messages?recovery_case={}", case["id"].as_str().unwrap());
    app.as_user("dana").get(&path).await.json()["items"].as_array().unwrap().clone()
}

async fn kinds(app: &TestApp, case: &Value) -> Vec<String> {
    messages(app, case).await.iter().map(|m| m["kind"].as_str().unwrap().to_owned()).collect()
}

/// The path of the feedback link as the customer gets it: the outbox worker delivers the case's
/// messages to the company's SMS gateway (a webhook; the customer prefers texts). Staff listing the
/// messages see where the link goes, never its token, so they cannot answer for the customer.
async fn feedback_path(app: &TestApp, case: &Value) -> String {
    let messages = messages(app, case).await;
    let explanation = messages.iter().find(|m| m["kind"] == "explanation").expect("an explanation");
    assert!(explanation["body"].as_str().unwrap().starts_with("Dear Amelia Hart,"), "{explanation}");
    let request = messages.iter().find(|m| m["kind"] == "feedback_request").expect("a feedback request");
    let shown = request["body"].as_str().unwrap().to_owned();
    assert!(shown.contains("http://127.0.0.1:8080/feedback/[link sent to the customer only]"), "{shown}");

    let hooks = WebhookReceiver::start(0);
    let settings = OutboxSettings {
        webhook: Some(WebhookTarget::new(&hooks.url, "a-webhook-secret-of-at-least-24-bytes").unwrap()),
        log: false,
        ..OutboxSettings::default()
    };
    let outbox = Outbox::new(app.state.db.clone(), app.state.clock.clone(), app.state.links.clone(), settings).unwrap();
    assert_eq!(outbox.run_once().await.unwrap().delivered, messages.len(), "every message is delivered");
    let sent: Vec<Value> = hooks.received().iter().map(|h| serde_json::from_str(&h.body).unwrap()).collect();
    let sent = sent.iter().find(|m| m["kind"] == "feedback_request").expect("the feedback request is sent");
    let body = sent["body"].as_str().unwrap();
    let at = body.find("/feedback/").expect("a feedback link");
    assert!(body[..at].ends_with("http://127.0.0.1:8080"), "the link starts with the public URL: {body}");
    let path = body[at..].split_whitespace().next().unwrap().to_owned();
    let token = path.trim_start_matches("/feedback/");
    assert!(token.len() > 40 && !shown.contains(token), "staff never see the token: {shown}");
    let listed = app.as_user("sam").get("/v1/messages").await.text();
    assert!(!listed.contains(token), "nor in any listing");
    path
}

async fn post_form(app: &TestApp, path: &str, form: &str) -> Response {
    let request = TestRequest::post()
        .uri(path)
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .set_payload(form.to_owned());
    app.send(request).await
}

async fn post_json(app: &TestApp, path: &str, body: &Value) -> Response {
    app.send(TestRequest::post().uri(path).set_json(body)).await
}

fn assert_page(response: &Response, status: StatusCode, contains: &str) {
    assert_eq!(response.status, status, "{}", response.text());
    assert_eq!(response.header("content-type").as_deref(), Some("text/html; charset=utf-8"));
    assert_eq!(response.header("cache-control").as_deref(), Some("no-store"));
    assert!(response.text().contains(contains), "expected `{contains}` in {}", response.text());
}

#[rstest]
#[actix_web::test]
async fn a_recovered_customer_answers_the_feedback_form_once(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let case = recovered_case(&app, true).await;
    let path = feedback_path(&app, &case).await;

    let form = app.send(TestRequest::get().uri(&path)).await;
    assert_page(&form, StatusCode::OK, "Did anything we did surprise you?");
    assert!(form.text().contains(r#"name="satisfaction" value="5""#), "a 1–5 scale: {}", form.text());

    let mistaken = post_form(&app, &path, "satisfaction=9&comment=Quick+work").await;
    assert_page(&mistaken, StatusCode::UNPROCESSABLE_ENTITY, "choose how satisfied you are, from 1 to 5");
    assert!(mistaken.text().contains("answer yes or no") && mistaken.text().contains("Quick work"), "kept the comment");

    let answer = "satisfaction=5&surprised=yes&surprise_note=The+flowers+for+Bella&comment=Quick+and+kind";
    assert_page(&post_form(&app, &path, answer).await, StatusCode::OK, "Thank you");
    assert_page(&post_form(&app, &path, answer).await, StatusCode::GONE, "already been given");
    assert_page(&app.send(TestRequest::get().uri(&path)).await, StatusCode::GONE, "already been given");

    let cases = app.as_user("dana").get("/v1/recovery-cases?status=recovered").await.json();
    let feedback = &cases["items"][0]["feedback"];
    assert_eq!((&feedback["satisfaction"], &feedback["surprise_note"]), (&json!(5), &json!("The flowers for Bella")));
    let metrics = app.as_user("dana").get("/v1/metrics/recovery?days=7").await.json();
    let recovery = &metrics["recovery"];
    assert_eq!(
        (&recovery["feedback_responses"], &recovery["average_satisfaction"], &recovery["felt_surprised_rate"]),
        (&json!(1), &json!(5.0), &json!(1.0))
    );
}

#[rstest]
#[actix_web::test]
async fn feedback_links_are_signed_and_expire_and_json_answers_get_problem_details(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let app = spawn_app!(backend);
    let case = recovered_case(&app, false).await;
    let path = feedback_path(&app, &case).await;

    // One character changed inside the signature (not the last, whose low bits base64 may ignore).
    let at = path.len() - 10;
    let swapped = if &path[at..=at] == "x" { "y" } else { "x" };
    let forged = format!("{}{swapped}{}", &path[..at], &path[at + 1..]);
    assert_page(&app.send(TestRequest::get().uri(&forged)).await, StatusCode::NOT_FOUND, "not valid");
    let sign_in_token = format!("/feedback/{}", app.token("dana"));
    assert_page(&app.send(TestRequest::get().uri(&sign_in_token)).await, StatusCode::NOT_FOUND, "not valid");
    let deeper = app.send(TestRequest::get().uri(&format!("{path}/more"))).await;
    deeper.problem(StatusCode::NOT_FOUND);

    let out_of_range = post_json(&app, &path, &json!({ "satisfaction": 0, "surprised": false })).await;
    assert_eq!(out_of_range.error_fields(), ["satisfaction"]);
    let unknown = post_json(&app, &path, &json!({ "satisfaction": 3, "surprised": false, "rating": 3 })).await;
    assert_eq!(unknown.error_fields(), ["rating"]);

    app.state.clock.advance(TimeDelta::days(14) + TimeDelta::minutes(1));
    assert_page(&app.send(TestRequest::get().uri(&path)).await, StatusCode::GONE, "expired");
    post_json(&app, &path, &json!({ "satisfaction": 4, "surprised": false })).await.problem(StatusCode::GONE);
    let metrics = app.as_user("dana").get("/v1/metrics/recovery?days=30").await.json();
    assert_eq!(metrics["recovery"]["feedback_responses"], 0);
}

#[rstest]
#[actix_web::test]
async fn a_json_answer_within_the_link_lifetime_is_stored(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let case = recovered_case(&app, false).await;
    let path = feedback_path(&app, &case).await;
    app.state.clock.advance(TimeDelta::days(13));
    let answer = json!({ "satisfaction": 2, "surprised": false, "comment": "  It took two visits.  " });
    let stored = post_json(&app, &path, &answer).await;
    assert_eq!(stored.status, StatusCode::OK, "{}", stored.text());
    let stored = stored.json();
    assert_eq!((&stored["satisfaction"], &stored["comment"]), (&json!(2), &json!("It took two visits.")));
    assert_eq!(stored["recovery_case_id"], case["id"]);
    post_json(&app, &path, &answer).await.problem(StatusCode::GONE);
}
