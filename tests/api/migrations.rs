//! Migrations run up, all the way down and up again on both backends, from identical folders.

use crate::common;

use rstest::rstest;

use common::Backend::{self, Postgres, Sqlite};

fn migration_names(backend: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(format!("migrations/{backend}"))
        .expect("migrations folder")
        .map(|entry| entry.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn both_backends_have_the_same_migrations() {
    let sqlite = migration_names("sqlite");
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, migration_names("postgres"));
}

#[rstest]
#[actix_web::test]
async fn migrations_go_up_down_and_up_again(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let mut conn = app.state.db.get().expect("connection");
    fieldproof::db::revert_all_migrations(&mut conn).expect("all down");
    assert!(app.execute_sql("SELECT 1 FROM signoffs").is_err(), "tables are gone");
    let applied = fieldproof::db::run_migrations(&mut conn).expect("all up again");
    assert_eq!(applied.len(), migration_names("sqlite").len());
    app.execute_sql("SELECT 1 FROM signoffs").expect("tables are back");
}
