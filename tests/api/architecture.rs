//! The domain core stays pure: no database, no web framework, no clock.

#[test]
fn domain_knows_no_diesel_actix_or_clock() {
    for entry in std::fs::read_dir("src/domain").expect("src/domain") {
        let path = entry.expect("entry").path();
        let source = std::fs::read_to_string(&path).expect("read");
        for forbidden in ["diesel::", "actix_web", "actix_rt", "tokio::", "Utc::now", "SystemTime"] {
            assert!(!source.contains(forbidden), "{} mentions {forbidden}", path.display());
        }
    }
}

#[test]
fn workflows_know_no_http_auth_or_api_errors() {
    for dir in ["src/workflows", "src/db", "src/outbox", "src/credentials"] {
        for entry in std::fs::read_dir(dir).expect(dir) {
            let path = entry.expect("entry").path();
            let source = std::fs::read_to_string(&path).expect("read");
            for forbidden in ["actix_web", "crate::http", "crate::auth", "crate::error", "ApiError"] {
                assert!(!source.contains(forbidden), "{} mentions {forbidden}", path.display());
            }
        }
    }
}
