//! Serving and publishing versioned checklists.

use crate::common;

use actix_web::http::header::HeaderValue;
use actix_web::http::{Method, StatusCode};
use rstest::rstest;
use serde_json::{Value, json};

use common::Backend::{self, Postgres, Sqlite};

const GAS: &str = "gas-boiler-annual-service";

#[rstest]
#[actix_web::test]
async fn lists_every_shipped_checklist_with_its_latest_version(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let list = app.as_user("tess").get("/v1/checklists").await.json();
    let keys: Vec<&str> = list.as_array().expect("array").iter().map(|c| c["key"].as_str().expect("key")).collect();
    for key in [GAS, "consumer-unit-replacement", "broadband-install", "unvented-cylinder-install", "make-safe-gas"] {
        assert!(keys.contains(&key), "{key} missing from {keys:?}");
    }
    let gas = list.as_array().expect("array").iter().find(|c| c["key"] == GAS).expect("gas");
    assert_eq!(gas["latest_version"], 1);
    assert_eq!(gas["trade"], "gas");
}

#[rstest]
#[actix_web::test]
async fn pinned_version_has_strong_etag_long_cache_and_304(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let tess = app.as_user("tess");
    let path = format!("/v1/checklists/{GAS}/versions/1");
    let first = tess.get(&path).await;
    assert_eq!(first.status, StatusCode::OK);
    let etag = first.header("etag").expect("etag");
    assert!(etag.starts_with('"') && !etag.starts_with("W/"), "strong etag: {etag}");
    assert!(first.header("cache-control").expect("cache-control").contains("immutable"));
    let body = first.json();
    assert_eq!((body["key"].as_str(), body["version"].as_i64()), (Some(GAS), Some(1)));
    assert!(body["items"].as_array().expect("items").len() >= 15);

    let not_modified = tess.call_with(Method::GET, &path, &[("If-None-Match", &etag)], None).await;
    assert_eq!(not_modified.status, StatusCode::NOT_MODIFIED);
    assert!(not_modified.body.is_empty());
    assert_eq!(not_modified.header("etag"), Some(etag.clone()));

    let stale = tess.call_with(Method::GET, &path, &[("If-None-Match", "\"something-else\"")], None).await;
    assert_eq!(stale.status, StatusCode::OK);
    // The tag among others, its weak form, or any: each names this version too.
    for sent in [format!("\"something-else\", {etag}"), format!("W/{etag}"), "*".to_owned()] {
        let named = tess.call_with(Method::GET, &path, &[("If-None-Match", &sent)], None).await;
        assert_eq!(named.status, StatusCode::NOT_MODIFIED, "If-None-Match: {sent}");
        assert_eq!(named.header("etag"), Some(etag.clone()));
    }
    // Over several header lines the list is read whole, whichever line holds the tag; an item that
    // is not a tag is passed over, as in a one-line list; a line that is not text makes the list
    // unreadable (so: 200), even after a line naming the tag.
    let two_lines = |first: &[u8], second: &[u8]| {
        let [first, second] = [first, second].map(|line| HeaderValue::from_bytes(line).expect("header value"));
        tess.request(Method::GET, &path)
            .append_header(("If-None-Match", first))
            .append_header(("If-None-Match", second))
    };
    for (first, second) in
        [("\"something-else\"", etag.as_str()), (etag.as_str(), "not a tag"), ("not a tag", etag.as_str())]
    {
        let named = tess.send(two_lines(first.as_bytes(), second.as_bytes())).await;
        assert_eq!(named.status, StatusCode::NOT_MODIFIED, "If-None-Match: {first} / {second}");
    }
    let unreadable = tess.send(two_lines(etag.as_bytes(), b"\"caf\xe9\"")).await;
    assert_eq!(unreadable.status, StatusCode::OK);

    let latest = tess.get(&format!("/v1/checklists/{GAS}")).await;
    assert_eq!(latest.header("etag"), Some(etag));
    assert_eq!(latest.body, first.body, "latest is byte-identical to v1 while v1 is the latest");
}

#[rstest]
#[actix_web::test]
async fn unknown_checklists_and_versions_are_404(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let tess = app.as_user("tess");
    for path in [
        "/v1/checklists/nope",
        "/v1/checklists/nope/versions/1",
        &format!("/v1/checklists/{GAS}/versions/9"),
        &format!("/v1/checklists/{GAS}/versions/x"),
    ] {
        tess.get(path).await.problem(StatusCode::NOT_FOUND);
    }
}

async fn served(app: &common::TestApp, version: i64) -> Value {
    app.as_user("ada").get(&format!("/v1/checklists/{GAS}/versions/{version}")).await.json()
}

#[rstest]
#[actix_web::test]
async fn publishing_a_new_version_keeps_the_old_one_and_pinned_jobs(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let job = app.issue_job("tess", GAS).await;
    assert_eq!(job["checklist_version"], 1);
    let v1 = served(&app, 1).await;

    let mut v2 = v1.clone();
    v2["version"] = json!(2);
    v2["items"].as_array_mut().expect("items").push(json!({
        "id": "co-alarm-date", "prompt": "CO alarm expiry date checked", "kind": "check",
        "required": true, "severity_hint": "safety_critical", "hazards": ["carbon_monoxide"]
    }));
    let admin = app.as_user("ada");
    let published = admin.post("/v1/checklists", &v2).await;
    assert_eq!(published.status, StatusCode::CREATED, "{}", published.text());
    assert_eq!(published.header("location").as_deref(), Some(&*format!("/v1/checklists/{GAS}/versions/2")));

    let again = admin.post("/v1/checklists", &v2).await;
    assert_eq!(again.status, StatusCode::OK, "same content again is accepted as already published");

    assert_eq!(served(&app, 1).await, v1, "v1 is unchanged");
    assert_eq!(served(&app, 2).await, v2);
    let latest = admin.get(&format!("/v1/checklists/{GAS}")).await.json();
    assert_eq!(latest["version"], 2);

    let job_now = admin.get(&format!("/v1/jobs/{}", job["id"].as_str().expect("id"))).await.json();
    assert_eq!(job_now["checklist_version"], 1, "an issued job stays pinned");
    assert_eq!(app.issue_job("tess", GAS).await["checklist_version"], 2, "new jobs get the new version");
}

#[rstest]
#[actix_web::test]
async fn changing_a_published_version_is_refused_with_409(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let mut changed = served(&app, 1).await;
    changed["title"] = json!("Gas boiler service (edited)");
    let response = app.as_user("ada").post("/v1/checklists", &changed).await;
    let body = response.problem(StatusCode::CONFLICT);
    assert!(body["detail"].as_str().unwrap_or_default().contains("publish v2"), "{body}");
    assert_eq!(served(&app, 1).await["title"], "Gas boiler annual service");
}

#[rstest]
#[actix_web::test]
async fn invalid_templates_are_422_naming_item_and_field(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let template = json!({
        "key": "loft-insulation", "version": 1, "title": "Loft insulation", "trade": "plumbing",
        "items": [
            { "id": "depth", "prompt": "Insulation depth", "kind": "number", "required": true,
              "min": 270, "limits": [0, 1000], "severity_hint": "nuisance", "hazards": [] },
            { "id": "hatch", "prompt": "Hatch insulated", "kind": "check", "required": true,
              "severity_hint": "safety_critical", "hazards": [] }
        ]
    });
    let response = app.as_user("ada").post("/v1/checklists", &template).await;
    assert_eq!(response.error_fields(), vec!["items[depth].unit", "items[hatch].hazards"]);

    let mut unknown_kind = template.clone();
    unknown_kind["items"][1]["kind"] = json!("checkbox");
    let response = app.as_user("ada").post("/v1/checklists", &unknown_kind).await;
    assert_eq!(response.error_fields(), vec!["items[1].kind"]);
}
