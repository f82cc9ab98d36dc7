//! Signing off: validated against the pinned version, stored once, never changed.

use crate::common;

use actix_web::http::StatusCode;
use rstest::rstest;
use serde_json::{Value, json};

use common::Backend::{self, Postgres, Sqlite};

const GAS: &str = "gas-boiler-annual-service";

fn set(answers: &mut [Value], item_id: &str, value: Value) {
    let answer = answers.iter_mut().find(|a| a["item_id"] == item_id).unwrap_or_else(|| panic!("no answer {item_id}"));
    answer["value"] = value;
}

struct Signing {
    app: common::TestApp,
    job: Value,
    answers: Vec<Value>,
}

impl Signing {
    async fn new(backend: Backend) -> Option<Self> {
        let app = common::TestApp::spawn(backend).await?;
        let job = app.issue_job("tess", GAS).await;
        let answers = common::passing_answers(&app.checklist_of(&job).await);
        Some(Self { app, job, answers })
    }

    fn path(&self) -> String {
        format!("/v1/jobs/{}/signoffs", self.job["id"].as_str().expect("id"))
    }

    async fn sign(&self, as_user: &str, body: &Value) -> common::Response {
        self.app.as_user(as_user).post(&self.path(), body).await
    }
}

macro_rules! signing {
    ($backend:expr) => {
        match Signing::new($backend).await {
            Some(signing) => signing,
            None => return,
        }
    };
}

#[rstest]
#[actix_web::test]
async fn signoff_is_stored_with_hash_failed_items_and_audit(#[values(Sqlite, Postgres)] backend: Backend) {
    let s = signing!(backend);
    let mut answers = s.answers.clone();
    set(&mut answers, "flue-gas-co", json!(420));
    set(&mut answers, "appliance-classification", json!("at_risk"));
    set(&mut answers, "work-area-tidy", json!(false));
    let id = uuid::Uuid::new_v4().to_string();
    let response = s.sign("tess", &common::signoff_body(&id, answers)).await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    let body = response.json();
    assert_eq!(body["id"], id);
    assert_eq!(body["job_id"], s.job["id"]);
    assert_eq!((body["checklist_key"].as_str(), body["checklist_version"].as_i64()), (Some(GAS), Some(1)));
    assert_eq!(body["received_at"], "2026-03-02T09:00:00Z", "server time, not the device's");
    assert_eq!(body["signed_at"], "2026-03-02T08:55:00Z");
    assert_eq!(body["content_hash"].as_str().map(str::len), Some(64));
    let failed: Vec<(&str, &str)> = body["failed_items"]
        .as_array()
        .expect("failed_items")
        .iter()
        .map(|f| (f["item_id"].as_str().expect("id"), f["severity_hint"].as_str().expect("hint")))
        .collect();
    assert_eq!(
        failed,
        vec![
            ("flue-gas-co", "safety_critical"),
            ("appliance-classification", "safety_critical"),
            ("work-area-tidy", "nuisance")
        ]
    );
    assert_eq!(body["failed_items"][0]["hazards"], json!(["carbon_monoxide"]));

    let listed = s.app.as_user("dana").get(&s.path()).await.json();
    assert_eq!(listed["items"], json!([body]));
    let job = s.app.as_user("tess").get(&format!("/v1/jobs/{}", s.job["id"].as_str().expect("id"))).await.json();
    assert_eq!(job["status"], "signed_off");

    let mut conn = s.app.state.db.get().expect("connection");
    let audit = fieldproof::db::audit::for_entity(&mut conn, "signoff", &id).expect("audit");
    assert_eq!(audit.len(), 1);
    assert_eq!((audit[0].action.as_str(), audit[0].actor.as_str()), ("signoff.recorded", "tess"));
    assert_eq!(audit[0].actor_id.as_deref(), Some(s.app.user_id("tess").as_str()));
}

#[rstest]
#[actix_web::test]
async fn retried_signoff_with_same_body_returns_original(#[values(Sqlite, Postgres)] backend: Backend) {
    let s = signing!(backend);
    let body = common::signoff_body(&uuid::Uuid::new_v4().to_string(), s.answers.clone());
    let first = s.sign("tess", &body).await;
    assert_eq!(first.status, StatusCode::CREATED);
    s.app.state.clock.advance(chrono::TimeDelta::minutes(7));
    let retry = s.sign("tess", &body).await;
    assert_eq!(retry.status, StatusCode::OK);
    assert_eq!(retry.body, first.body, "byte-identical replay");
    let listed = s.app.as_user("tess").get(&s.path()).await.json();
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1), "no duplicate");
}

#[rstest]
#[actix_web::test]
async fn same_id_with_different_body_is_409(#[values(Sqlite, Postgres)] backend: Backend) {
    let s = signing!(backend);
    let id = uuid::Uuid::new_v4().to_string();
    assert_eq!(s.sign("tess", &common::signoff_body(&id, s.answers.clone())).await.status, StatusCode::CREATED);
    let mut answers = s.answers.clone();
    set(&mut answers, "work-area-tidy", json!(false));
    s.sign("tess", &common::signoff_body(&id, answers)).await.problem(StatusCode::CONFLICT);
    let mut renamed = common::signoff_body(&id, s.answers.clone());
    renamed["signer_name"] = json!("T. Turner");
    s.sign("tess", &renamed).await.problem(StatusCode::CONFLICT);
    let listed = s.app.as_user("tess").get(&s.path()).await.json();
    assert_eq!(listed["items"][0]["signer_name"], "Tess Turner", "the original stands");
}

#[rstest]
#[actix_web::test]
async fn every_unacceptable_answer_is_listed_in_one_422(#[values(Sqlite, Postgres)] backend: Backend) {
    let s = signing!(backend);
    let mut answers = s.answers.clone();
    answers.retain(|a| a["item_id"] != "gas-tightness-test");
    set(&mut answers, "flue-gas-co", json!(25_000));
    set(&mut answers, "co-alarm-present-tested", json!("yes"));
    set(&mut answers, "appliance-classification", json!("fine"));
    set(&mut answers, "appliance-make-model-gc", json!("   "));
    set(&mut answers, "working-pressure-meter", Value::Null);
    answers.push(json!({ "item_id": "boiler-colour", "value": "white" }));
    answers.push(json!({ "item_id": "customer-handover", "value": true }));
    let response = s.sign("tess", &common::signoff_body(&uuid::Uuid::new_v4().to_string(), answers)).await;
    let mut fields = response.error_fields();
    fields.sort();
    assert_eq!(
        fields,
        vec![
            "answers[appliance-classification]",
            "answers[appliance-make-model-gc]",
            "answers[boiler-colour]",
            "answers[co-alarm-present-tested]",
            "answers[customer-handover]",
            "answers[flue-gas-co]",
            "answers[gas-tightness-test]",
            "answers[working-pressure-meter]",
        ]
    );
    let listed = s.app.as_user("tess").get(&s.path()).await.json();
    assert_eq!(listed["items"], json!([]), "nothing stored");
}

#[rstest]
#[actix_web::test]
async fn malformed_signoff_fields_are_422(#[values(Sqlite, Postgres)] backend: Backend) {
    let s = signing!(backend);
    let good = common::signoff_body(&uuid::Uuid::new_v4().to_string(), s.answers.clone());
    let cases: Vec<(&str, Value, &str)> = vec![
        ("id", json!("not-a-uuid"), "id"),
        ("signed_at", json!("yesterday"), "signed_at"),
        ("signed_at", json!("2026-03-05T09:00:00Z"), "signed_at"),
        ("signer_name", json!(""), "signer_name"),
        ("meaning", json!(""), "meaning"),
        ("answers", json!([{ "item_id": "x" }]), "answers[0].value"),
        ("answers", json!("all good"), "answers"),
    ];
    for (field, value, expected) in cases {
        let mut body = good.clone();
        body[field] = value;
        let response = s.sign("tess", &body).await;
        assert_eq!(response.error_fields(), vec![expected], "{field}");
    }
    let mut missing = good.clone();
    missing.as_object_mut().expect("object").remove("meaning");
    assert_eq!(s.sign("tess", &missing).await.error_fields(), vec!["meaning"]);
    let mut extra = good.clone();
    extra["approved"] = json!(true);
    assert_eq!(s.sign("tess", &extra).await.error_fields(), vec!["approved"]);
}

#[rstest]
#[actix_web::test]
async fn only_the_assigned_technician_signs(#[values(Sqlite, Postgres)] backend: Backend) {
    let s = signing!(backend);
    let body = common::signoff_body(&uuid::Uuid::new_v4().to_string(), s.answers.clone());
    s.sign("tom", &body).await.problem(StatusCode::NOT_FOUND);
    s.sign("dana", &body).await.problem(StatusCode::FORBIDDEN);
    let unknown = format!("/v1/jobs/{}/signoffs", uuid::Uuid::new_v4());
    s.app.as_user("tess").post(&unknown, &body).await.problem(StatusCode::NOT_FOUND);
    assert_eq!(s.sign("tess", &body).await.status, StatusCode::CREATED);
}

#[rstest]
#[actix_web::test]
async fn the_database_refuses_to_alter_a_signoff(#[values(Sqlite, Postgres)] backend: Backend) {
    let s = signing!(backend);
    let id = uuid::Uuid::new_v4().to_string();
    assert_eq!(s.sign("tess", &common::signoff_body(&id, s.answers.clone())).await.status, StatusCode::CREATED);
    assert!(s.app.execute_sql(&format!("UPDATE signoffs SET signer_name = 'someone' WHERE id = '{id}'")).is_err());
    assert!(s.app.execute_sql(&format!("DELETE FROM signoffs WHERE id = '{id}'")).is_err());
    assert!(s.app.execute_sql("DELETE FROM audit_log").is_err());
    let listed = s.app.as_user("tess").get(&s.path()).await.json();
    assert_eq!(listed["items"][0]["signer_name"], "Tess Turner");
}

/// Writers that fail inside their transaction (the same id, other content: a unique violation) do
/// not take down the writers committing with them: on SQLite they may share one group commit.
#[rstest]
#[actix_web::test]
async fn failing_writers_leave_the_others_committed(#[values(Sqlite, Postgres)] backend: Backend) {
    let s = signing!(backend);
    let ids: Vec<String> = (0..8).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let attempts = ids.iter().flat_map(|id| {
        ["Tess Turner", "T. Turner"].map(|signer| {
            let mut body = common::signoff_body(id, s.answers.clone());
            body["signer_name"] = json!(signer);
            body
        })
    });
    let bodies: Vec<Value> = attempts.collect();
    let responses = futures_util::future::join_all(bodies.iter().map(|body| s.sign("tess", body))).await;
    for pair in responses.chunks(2) {
        let mut statuses: Vec<u16> = pair.iter().map(|r| r.status.as_u16()).collect();
        statuses.sort();
        assert_eq!(statuses, vec![201, 409], "one of each pair is stored, the other refused: {}", pair[1].text());
    }
    let listed = s.app.as_user("tess").get(&s.path()).await.json();
    let mut stored: Vec<&str> =
        listed["items"].as_array().expect("items").iter().map(|i| i["id"].as_str().unwrap()).collect();
    stored.sort_unstable();
    let mut expected: Vec<&str> = ids.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(stored, expected, "every id is stored once");
    let mut conn = s.app.state.db.get().expect("connection");
    for chain in fieldproof::db::chain::Chain::ALL {
        let verdict = fieldproof::db::chain::verify(&mut conn, chain).expect("verify");
        assert_eq!(verdict.broken, None, "{chain:?}");
    }
}

#[rstest]
#[actix_web::test]
async fn concurrent_retries_store_one_signoff(#[values(Sqlite, Postgres)] backend: Backend) {
    let s = signing!(backend);
    let body = common::signoff_body(&uuid::Uuid::new_v4().to_string(), s.answers.clone());
    let attempts = (0..4).map(|_| s.sign("tess", &body));
    let responses = futures_util::future::join_all(attempts).await;
    let mut statuses: Vec<u16> = responses.iter().map(|r| r.status.as_u16()).collect();
    statuses.sort();
    assert_eq!(statuses, vec![200, 200, 200, 201], "one creates, the others replay");
    let created = responses.iter().find(|r| r.status == StatusCode::CREATED).expect("created");
    assert!(responses.iter().all(|r| r.json() == created.json()), "every answer is the stored sign-off");
    let listed = s.app.as_user("tess").get(&s.path()).await.json();
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));
}
