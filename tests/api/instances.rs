//! Several instances of the binary on one PostgreSQL database, as behind a load balancer without
//! sticky sessions: started at the same moment on an empty database (they migrate and import
//! together), then driven at once, each request of a journey and each retry on any instance.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use diesel::{Connection, PgConnection, RunQueryDsl};
use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::common;
use common::Backend::Postgres;
use common::TestDatabase;
use common::receivers::WebhookReceiver;
use common::service::{Answer, Deployment, Running};

const INSTANCES: usize = 3;
const CUSTOMERS: usize = 6;

fn count(conn: &mut PgConnection, query: &str) -> i64 {
    diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!("({query})")))
        .get_result(conn)
        .unwrap_or_else(|e| panic!("{query}: {e}"))
}

/// Sends the same request to every instance at once (a client retrying through the load
/// balancer); returns the statuses, sorted, and the bodies of the 2xx answers.
async fn everywhere(instances: &[Running], tokens: &[String], path: &str, body: &Value) -> (Vec<u16>, Vec<Value>) {
    let sends = instances.iter().zip(tokens).map(|(i, t)| i.send(reqwest::Method::POST, path, Some(t), Some(body)));
    let (mut statuses, mut bodies) = (Vec::new(), Vec::new());
    for answer in join_all(sends).await {
        let Answer::Status(status, text) = answer else { panic!("{path}: {answer:?}") };
        statuses.push(status.as_u16());
        if status.is_success() {
            bodies.push(serde_json::from_str(&text).unwrap());
        }
    }
    statuses.sort_unstable();
    (statuses, bodies)
}

/// One customer's journey, its steps spread over the instances: the job, the technician's
/// sign-off, the customer's call about a failure, the apology. Returns the recovery case's id.
async fn journey(instances: &[Running], dana: &[String], tess: &[String], n: usize) -> String {
    let on = |step: usize| (&instances[(n + step) % INSTANCES], &dana[(n + step) % INSTANCES]);
    let (first, token) = on(0);
    let customer = json!({ "name": format!("Customer {n}"), "phone": format!("+44 7700 900{n:03}") });
    let job = json!({
        "customer": customer,
        "site": { "address": format!("{n} Orchard Lane, Bristol"), "postcode": "BS6 7QT" },
        "technician": "tess", "checklist_key": "broadband-install", "scheduled_for": "2026-12-04T10:00:00Z"
    });
    let job = first.post("/v1/jobs", token, job).await;
    let job_id = job["id"].as_str().unwrap();
    let checklist = first.get(job["checklist_url"].as_str().unwrap(), token).await;

    let signoff = common::signoff_body(&uuid::Uuid::new_v4().to_string(), common::passing_answers(&checklist));
    let (statuses, _) = everywhere(instances, tess, &format!("/v1/jobs/{job_id}/signoffs"), &signoff).await;
    assert_eq!(statuses, [200, 200, 201], "one instance stores the sign-off, the others replay it");

    let failure = json!({ "id": uuid::Uuid::new_v4(), "job_id": job_id,
                          "description": "broadband keeps dropping out since the install" });
    let (statuses, reported) = everywhere(instances, dana, "/v1/failures", &failure).await;
    assert_eq!(statuses, [200, 200, 201], "one instance records the failure, the others replay it");
    let incident = &reported[0]["incident_id"];
    assert!(reported.iter().all(|r| &r["incident_id"] == incident), "{reported:?}");
    assert_eq!(reported[0]["severity"], "service_impacting");

    let (other, token) = on(1);
    let cases = other.get("/v1/recovery-cases", token).await;
    let case = cases["items"].as_array().unwrap().iter().find(|c| &c["incident_id"] == incident).cloned();
    let case_id = case.expect("a recovery case for the incident")["id"].as_str().unwrap().to_owned();
    let apology = format!("/v1/recovery-cases/{case_id}/apology");
    let (statuses, _) = everywhere(instances, dana, &apology, &json!({})).await;
    assert_eq!(statuses, [200, 409, 409], "the apology is sent once; the others find it sent");
    case_id
}

#[actix_web::test]
async fn three_instances_on_one_postgres_migrate_together_and_store_and_deliver_everything_once() {
    let Some(database) = TestDatabase::create(Postgres) else { return };
    let dir = tempfile::tempdir().unwrap();
    let hooks = WebhookReceiver::start(0);
    let deployments: Vec<Deployment> = (0..INSTANCES)
        .map(|_| {
            Deployment::new(database.url(), dir.path())
                .with_webhook(&hooks.url)
                .with("FIELDPROOF_OUTBOX_WORKERS", "2")
                .with("FIELDPROOF_SHUTDOWN_GRACE", "5")
        })
        .collect();
    // All three start at the same moment on an empty database.
    let mut instances: Vec<Running> = deployments.iter().map(Deployment::spawn).collect();
    for instance in &mut instances {
        instance.ready().await;
    }
    let mut conn = PgConnection::establish(&database.url()).unwrap();
    let migrations = std::fs::read_dir("migrations/postgres").unwrap().count();
    assert_eq!(count(&mut conn, "SELECT count(*) FROM __diesel_schema_migrations"), migrations as i64);
    let published = count(&mut conn, "SELECT count(*) FROM checklist_versions");
    let audited = "SELECT count(*) FROM audit_log WHERE action = 'checklist.published'";
    assert_eq!(count(&mut conn, audited), published, "each checklist version published once");

    deployments[0].add_user("dana", "dispatcher");
    deployments[1].add_user("tess", "technician");
    // A token from one instance works on every other: no sticky sessions.
    let dana: Vec<String> = vec![instances[0].sign_in("dana").await; INSTANCES];
    let tess: Vec<String> = vec![instances[1].sign_in("tess").await; INSTANCES];

    let journeys = (0..CUSTOMERS).map(|n| journey(&instances, &dana, &tess, n));
    let cases = join_all(journeys).await;

    // Every apology is delivered, by the six outbox workers between them.
    let deadline = Instant::now() + Duration::from_secs(60);
    let messages = loop {
        let listed = instances[2].get("/v1/messages", &dana[2]).await;
        let items = listed["items"].as_array().unwrap().clone();
        if items.len() >= CUSTOMERS && items.iter().all(|m| m["status"] == "delivered") {
            break items;
        }
        assert!(Instant::now() < deadline, "not all delivered within 60 s: {items:?}");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    };
    // Stopped, no instance can deliver anything more: what the receiver has is final.
    for instance in &instances {
        instance.signal_term();
    }
    for (instance, deployment) in instances.iter_mut().zip(&deployments) {
        let status = instance.wait();
        assert!(status.success(), "a clean exit on SIGTERM: {status:?}\n{}", deployment.log_text());
    }

    for (table, expected) in [
        ("signoffs", CUSTOMERS),
        ("failure_reports", CUSTOMERS),
        ("incidents", CUSTOMERS),
        ("recovery_cases", CUSTOMERS),
        ("outbox_messages", CUSTOMERS),
    ] {
        assert_eq!(count(&mut conn, &format!("SELECT count(*) FROM {table}")), expected as i64, "rows in {table}");
    }
    let apologised = "SELECT count(*) FROM audit_log WHERE action = 'recovery.step' AND details LIKE '%apologised%'";
    assert_eq!(count(&mut conn, apologised), CUSTOMERS as i64, "each apology audited once");
    let mut case_ids: Vec<&String> = cases.iter().collect();
    case_ids.sort();
    case_ids.dedup();
    assert_eq!(case_ids.len(), CUSTOMERS);

    let mut deliveries: HashMap<String, usize> = HashMap::new();
    for hook in hooks.received() {
        assert!(hook.accepted);
        *deliveries.entry(hook.id).or_default() += 1;
    }
    let keys: HashMap<String, usize> =
        messages.iter().map(|m| (m["dedup_key"].as_str().unwrap().to_owned(), 1)).collect();
    assert_eq!(deliveries, keys, "every message delivered exactly once, by webhook-id");

    // The audit chains stayed intact while three processes appended to them.
    let verify = deployments[0].command(&["audit", "verify"]).output().unwrap();
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));
}
