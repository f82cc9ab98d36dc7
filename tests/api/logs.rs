//! What the service writes to its (text) log, run as the real executable: request data with line
//! breaks cannot forge a log line, and a customer's feedback link never reaches the log; the
//! operator prints it with `fieldproof feedback link` (audited).

use std::path::Path;
use std::time::{Duration, Instant};

use rstest::rstest;
use serde_json::json;

use crate::common;
use common::Backend::{self, Postgres, Sqlite};
use common::TestDatabase;
use common::service::Deployment;

/// What a forged line would begin with: the text log's own timestamp and level.
const FORGED: &str = "2026-12-03T10:00:00.000000Z  INFO fieldproof: forged";

/// This test's deployment: plain-text logs at `info`, and no email or webhook, so customer
/// messages go to the log.
fn deployment(database: String, dir: &Path) -> Deployment {
    Deployment::new(database, dir)
        .with("RUST_LOG", "info")
        .without("FIELDPROOF_LOG_FORMAT")
        .without("FIELDPROOF_SMTP_URL")
        .without("FIELDPROOF_WEBHOOK_URL")
}

#[rstest]
#[actix_web::test]
async fn logged_request_data_cannot_forge_a_line_and_feedback_links_stay_out_of_the_log(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(database) = TestDatabase::create(backend) else { return };
    let dir = tempfile::tempdir().unwrap();
    let deployment = deployment(database.url(), dir.path());
    deployment.add_user("dana", "dispatcher");
    deployment.add_user("tess", "technician");
    let service = deployment.start().await;
    let dana = service.sign_in("dana").await;

    // A customer's name with a line break and what looks like a log line after it (JSON allows it).
    let name = format!("Amelia Hart\r\n{FORGED} line\n{FORGED} too");
    let job = json!({
        "customer": { "name": name, "email": "amelia@example.com" },
        "site": { "address": "14 Orchard Lane, Bristol", "postcode": "BS6 7QT" },
        "technician": "tess", "checklist_key": "broadband-install", "scheduled_for": "2026-12-04T10:00:00Z"
    });
    let job = service.post("/v1/jobs", &dana, job).await;
    let failure = json!({ "id": uuid::Uuid::new_v4(), "job_id": job["id"], "description": "left the hallway dusty" });
    let reported = service.post("/v1/failures", &dana, failure).await;
    let cases = service.get("/v1/recovery-cases", &dana).await;
    let case = cases["items"].as_array().unwrap().iter().find(|c| c["incident_id"] == reported["incident_id"]).cloned();
    let case = case.expect("a recovery case")["id"].as_str().unwrap().to_owned();
    // Recovered (fixed, remedy, explanation, apology): the customer is sent a feedback link.
    let base = format!("/v1/recovery-cases/{case}");
    service.post(&format!("{base}/fixed"), &dana, json!({})).await;
    let offer = service.get(&format!("{base}/remedies"), &dana).await;
    let option = offer["options"].as_array().unwrap().iter().find(|o| o["needs_approval"] == false).unwrap().clone();
    service.post(&format!("{base}/remedy"), &dana, json!({ "remedy_id": option["id"] })).await;
    let explanation = json!({ "root_cause": "procedure_not_followed", "what_went_wrong": "Dust sheets were not laid.",
                              "what_changed": "Dust sheets are now a checklist step." });
    service.post(&format!("{base}/explanation"), &dana, explanation).await;
    service.post(&format!("{base}/apology"), &dana, json!({})).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let messages = service.get(&format!("/v1/messages?recovery_case={case}"), &dana).await;
        let items = messages["items"].as_array().unwrap().clone();
        if items.len() == 3 && items.iter().all(|m| m["status"] == "delivered" && m["channel"] == "log") {
            break;
        }
        assert!(Instant::now() < deadline, "not delivered to the log within 60 s: {items:?}");
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    }

    // The operator prints the link for the demo (audited); it opens the customer's form.
    let printed = deployment.command(&["feedback", "link", &case]).output().unwrap();
    assert!(printed.status.success(), "{}", String::from_utf8_lossy(&printed.stderr));
    let link = String::from_utf8(printed.stdout).unwrap().trim().to_owned();
    assert!(link.starts_with(&format!("http://{}/feedback/", deployment.bind)), "{link}");
    let form = service.client.get(&link).send().await.unwrap();
    assert_eq!(form.status(), 200);
    assert!(form.text().await.unwrap().contains("Did anything we did surprise you?"));
    let token = link.rsplit('/').next().unwrap().to_owned();

    let log = service.log_text();
    assert!(log.contains("Amelia Hart\\r\\n2026-12-03T10:00:00.000000Z"), "the name is logged, escaped:\n{log}");
    assert!(log.contains("not logged: `fieldproof feedback link"), "the log says where the link is:\n{log}");
    for line in log.lines() {
        assert!(!line.trim_start().starts_with("2026-12-03T10:00:00"), "a forged line: {line}\n{log}");
        assert!(!line.contains('\r'), "a carriage return in: {line:?}");
    }
    assert!(!log.contains(&token), "the feedback link's token is not in the log:\n{log}");
}
