//! Throughput, latency and memory of the hot paths, through the real actix app (in process, no
//! socket): serving a pinned checklist version, recording a sign-off (one write transaction), and
//! customer messages (an apology queued with its change, then delivered by the outbox worker to a
//! signed webhook on a local HTTP server).
//!
//!     cargo bench --bench api                      # SQLite in a temp file
//!     FIELDPROOF_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench api

#![allow(clippy::expect_used, clippy::unwrap_used, reason = "a benchmark stops at the first failure")]

use std::path::Path;
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, test as atest, web};
use diesel::Connection;
use diesel::connection::SimpleConnection;
use serde_json::{Value, json};

use fieldproof::auth::Role;
use fieldproof::clock::Clock;
use fieldproof::config::{JwtSettings, OutboxSettings, Settings, WebhookTarget};
use fieldproof::db::{DatabaseUrl, Db};
use fieldproof::outbox::Outbox;
use fieldproof::workflows::{self, Actor};
use fieldproof::{AppState, configure};

const SECRET: &[u8] = b"bench-secret-that-is-at-least-32-bytes";

fn state(url: &str) -> AppState {
    let database = DatabaseUrl::parse(url).expect("url");
    let db = Db::connect(&database, 8).expect("db");
    db.migrate().expect("migrate");
    let mut conn = db.get().expect("conn");
    let versions = fieldproof::catalogue::read_dir(Path::new("checklists")).expect("checklists");
    workflows::checklists::import(&mut conn, &versions, &Actor::cli(), chrono::Utc::now()).expect("import");
    for (name, role) in [("tess", Role::Technician), ("dana", Role::Dispatcher)] {
        workflows::users::add(
            &mut conn,
            name,
            name,
            role,
            workflows::users::NewPassword::hash("bench password 123").expect("password"),
            &Actor::cli(),
            chrono::Utc::now(),
        )
        .expect("user");
    }
    let rules = fieldproof::catalogue::read_rules(Path::new("checklists")).expect("rules");
    let settings = Settings {
        database,
        max_connections: 8,
        jwt: JwtSettings {
            secret: SECRET.to_vec(),
            issuer: "fp".into(),
            audience: "fp".into(),
            ttl: chrono::Duration::hours(1),
        },
        body_limit: 256 * 1024,
        safety: fieldproof::config::SafetyPolicy::default(),
        customers: fieldproof::config::CustomerContact::default(),
        metrics: fieldproof::config::MetricsSettings::default(),
        signoff_pin: fieldproof::config::SignoffPin::default(),
    };
    let policy = fieldproof::catalogue::read_policy(Path::new("checklists")).expect("policy");
    AppState::new(db, settings, rules, policy, Clock::System)
}

fn token(state: &AppState, username: &str) -> String {
    let mut conn = state.db.get().expect("conn");
    let user = fieldproof::db::users::by_username(&mut conn, username).expect("q").expect("user");
    let role = user.role;
    state.tokens.issue(&user.id, username, role, user.session_epoch, chrono::Utc::now()).expect("token")
}

struct Stats {
    name: &'static str,
    samples: Vec<Duration>,
    total: Duration,
}

impl Stats {
    fn print(mut self) {
        self.samples.sort();
        let pct = |p: f64| self.samples[((self.samples.len() as f64 - 1.0) * p) as usize];
        println!(
            "{:<34} {:>7} req  {:>9.0} req/s  p50 {:>8.1?}  p99 {:>8.1?}",
            self.name,
            self.samples.len(),
            self.samples.len() as f64 / self.total.as_secs_f64(),
            pct(0.5),
            pct(0.99)
        );
    }
}

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

async fn run(label: &str, url: &str) {
    let state = web::Data::new(state(url));
    let app = atest::init_service(App::new().configure(configure(state.clone()))).await;
    let (tess, dana) = (token(&state, "tess"), token(&state, "dana"));
    let auth = |t: &str| ("Authorization", format!("Bearer {t}"));
    println!("-- {label}");

    let path = "/v1/checklists/gas-boiler-annual-service/versions/1";
    let mut samples = Vec::new();
    let started = Instant::now();
    for _ in 0..20_000 {
        let t = Instant::now();
        let res =
            atest::call_service(&app, atest::TestRequest::get().uri(path).insert_header(auth(&tess)).to_request())
                .await;
        assert!(res.status().is_success());
        let _ = atest::read_body(res).await;
        samples.push(t.elapsed());
    }
    Stats { name: "GET pinned checklist (8 KB)", samples, total: started.elapsed() }.print();

    let job_body = json!({ "customer": { "name": "Bench Customer" }, "site": { "address": "1 Bench St", "postcode": "AB1 2CD" },
        "technician": "tess", "checklist_key": "gas-boiler-annual-service", "scheduled_for": "2026-12-01T09:00:00Z" });
    let res = atest::call_service(
        &app,
        atest::TestRequest::post().uri("/v1/jobs").insert_header(auth(&dana)).set_json(&job_body).to_request(),
    )
    .await;
    let job: Value = atest::read_body_json(res).await;
    let checklist: Value = {
        let res =
            atest::call_service(&app, atest::TestRequest::get().uri(path).insert_header(auth(&tess)).to_request())
                .await;
        atest::read_body_json(res).await
    };
    let answers: Vec<Value> = checklist["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            let value = match item["kind"].as_str().unwrap() {
                "check" => json!(true),
                "yes_no" => item["expected"].clone(),
                "number" => {
                    let lo = item["min"].as_f64().or(item["limits"][0].as_f64()).unwrap();
                    let hi = item["max"].as_f64().or(item["limits"][1].as_f64()).unwrap();
                    json!((lo + hi) / 2.0)
                }
                "choice" => item["choices"][0].clone(),
                _ => json!("ok"),
            };
            json!({ "item_id": item["id"], "value": value })
        })
        .collect();
    let signoffs = format!("/v1/jobs/{}/signoffs", job["id"].as_str().unwrap());
    let mut samples = Vec::new();
    let started = Instant::now();
    for _ in 0..2_000 {
        let body = json!({ "id": uuid::Uuid::new_v4(), "answers": answers, "signed_at": chrono::Utc::now(),
            "signer_name": "Tess Turner", "meaning": "I carried out this work" });
        let t = Instant::now();
        let res = atest::call_service(
            &app,
            atest::TestRequest::post().uri(&signoffs).insert_header(auth(&tess)).set_json(&body).to_request(),
        )
        .await;
        let status = res.status().as_u16();
        let body = atest::read_body(res).await;
        assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
        samples.push(t.elapsed());
    }
    Stats { name: "POST sign-off (34 answers, durable)", samples, total: started.elapsed() }.print();
    outbox(&state, &dana, job["id"].as_str().unwrap()).await;
    println!("memory: RSS {} MiB, peak {} MiB", rss_kib("VmRSS:") / 1024, rss_kib("VmHWM:") / 1024);
}

/// Apologies for 500 ordinary failures (each queues its message in the same transaction), then the
/// outbox worker delivers them as signed webhooks to a local HTTP server.
async fn outbox(state: &web::Data<AppState>, dana: &str, job_id: &str) {
    const MESSAGES: usize = 500;
    let app = &atest::init_service(App::new().configure(configure(state.clone()))).await;
    let auth = ("Authorization", format!("Bearer {dana}"));
    for _ in 0..MESSAGES {
        let body = json!({ "id": uuid::Uuid::new_v4(), "job_id": job_id, "description": "left the hallway dusty" });
        let req = atest::TestRequest::post().uri("/v1/failures").insert_header(auth.clone()).set_json(&body);
        assert_eq!(atest::call_service(app, req.to_request()).await.status().as_u16(), 201);
    }
    let req = atest::TestRequest::get().uri("/v1/recovery-cases").insert_header(auth.clone());
    let cases: Value = atest::read_body_json(atest::call_service(app, req.to_request()).await).await;
    let mut samples = Vec::new();
    let started = Instant::now();
    for case in cases["items"].as_array().unwrap() {
        let uri = format!("/v1/recovery-cases/{}/apology", case["id"].as_str().unwrap());
        let req = atest::TestRequest::post().uri(&uri).insert_header(auth.clone()).set_json(json!({}));
        let t = Instant::now();
        assert_eq!(atest::call_service(app, req.to_request()).await.status().as_u16(), 200);
        samples.push(t.elapsed());
    }
    Stats { name: "POST apology (+ outbox message)", samples, total: started.elapsed() }.print();

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    let receiver = HttpServer::new(|| App::new().route("/hooks", web::post().to(HttpResponse::NoContent)))
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
    actix_web::rt::spawn(receiver);
    let settings = OutboxSettings {
        webhook: Some(WebhookTarget::new(&url, "bench-webhook-secret-24-bytes-long").unwrap()),
        log: false,
        ..OutboxSettings::default()
    };
    let worker = Outbox::new(state.db.clone(), state.clock.clone(), state.links.clone(), settings).unwrap();
    let (started, mut delivered) = (Instant::now(), 0);
    while delivered < MESSAGES {
        let pass = worker.run_once().await.unwrap();
        assert_eq!((pass.retrying, pass.given_up), (0, 0));
        delivered += pass.delivered;
    }
    let elapsed = started.elapsed();
    println!(
        "{:<34} {:>7} msg  {:>9.0} msg/s  (batches of {}, signed webhook over local HTTP)",
        "outbox delivery",
        delivered,
        delivered as f64 / elapsed.as_secs_f64(),
        OutboxSettings::default().batch
    );
}

#[actix_web::main]
async fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = dir.path().join("bench.db");
    run("SQLite (WAL, synchronous=FULL)", sqlite.to_str().expect("path")).await;
    if let Ok(admin) = std::env::var("FIELDPROOF_BENCH_POSTGRES_URL") {
        let name = format!("fieldproof_bench_{}", uuid::Uuid::new_v4().simple());
        let mut conn = diesel::PgConnection::establish(&admin).expect("postgres");
        conn.batch_execute(&format!("CREATE DATABASE {name}")).expect("create");
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b).to_owned();
        run("PostgreSQL", &format!("{base}/{name}")).await;
        let _ = conn.batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"));
    }
}
