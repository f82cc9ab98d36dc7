//! `serve --demo`: demo users, a customer and jobs, so a newcomer can walk the whole journey.

use anyhow::Context;
use chrono::Duration;

use fieldproof::clock::Clock;

use fieldproof::auth::Role;
use fieldproof::db::{self, Db};
use fieldproof::workflows::jobs::{CustomerRef, NewCustomer, NewJob, Site};
use fieldproof::workflows::{self, Actor};

/// Every demo user signs in with this password. Demo data only: never use `--demo` in production.
pub const DEMO_PASSWORD: &str = "fieldproof-demo";

const USERS: [(&str, &str, Role); 5] = [
    ("tess", "Tess Turner", Role::Technician),
    ("tom", "Tom Okafor", Role::Technician),
    ("dana", "Dana Reyes", Role::Dispatcher),
    ("sam", "Sam Patel", Role::SafetyOfficer),
    ("ada", "Ada Byrne", Role::Admin),
];

pub fn seed(db: &Db) -> anyhow::Result<()> {
    let mut conn = db.get()?;
    let now = Clock::System.now();
    if db::users::by_username(&mut conn, "dana")?.is_some() {
        print_credentials("already seeded");
        return Ok(());
    }
    for (username, name, role) in USERS {
        workflows::users::add(
            &mut conn,
            username,
            name,
            role,
            workflows::users::NewPassword::hash(DEMO_PASSWORD)?,
            &Actor::cli(),
            now,
        )
        .map_err(|e| anyhow::anyhow!("cannot add demo user {username}: {e}"))?;
    }
    let dispatcher = db::users::by_username(&mut conn, "dana")?.context("demo dispatcher missing")?;
    let actor = Actor::user(dispatcher.id, dispatcher.username, Role::Dispatcher);
    let customer_id = uuid::Uuid::now_v7();
    let jobs = [
        ("tess", "gas-boiler-annual-service", 1),
        ("tess", "consumer-unit-replacement", 2),
        ("tess", "unvented-cylinder-install", 3),
        ("tom", "broadband-install", 1),
    ];
    for (index, (technician, checklist_key, days)) in jobs.into_iter().enumerate() {
        let customer = if index == 0 {
            CustomerRef::New(NewCustomer {
                id: customer_id,
                name: "Amelia Hart".to_owned(),
                phone: Some("+44 7700 900123".to_owned()),
                email: Some("amelia.hart@example.com".to_owned()),
                preferences: vec![
                    "prefers text messages".to_owned(),
                    "loves gardening".to_owned(),
                    "has a dog, Bella".to_owned(),
                ],
                notes: Some("Side gate code 4721. Elderly mother lives with her.".to_owned()),
            })
        } else {
            CustomerRef::Existing(customer_id)
        };
        let job = NewJob {
            id: uuid::Uuid::now_v7(),
            customer,
            site: Site { address: "14 Orchard Lane, Bristol".to_owned(), postcode: "BS6 7QT".to_owned(), notes: None },
            technician: technician.to_owned(),
            checklist_key: checklist_key.to_owned(),
            scheduled_for: now + Duration::days(days),
        };
        workflows::jobs::create(&mut conn, job, &actor, now)
            .map_err(|e| anyhow::anyhow!("cannot add demo job: {e}"))?;
    }
    print_credentials("seeded demo users, a customer and 4 jobs");
    Ok(())
}

fn print_credentials(what: &str) {
    say!("demo: {what}; every demo user's password is `{DEMO_PASSWORD}`:");
    for (username, name, role) in USERS {
        say!("  {username:<6} {name:<12} {}", role.as_str());
    }
}
