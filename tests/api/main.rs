//! The black-box tests, one module per resource, linked into one test binary so the crate links
//! once. Each test gets its own app and database (`common::TestApp`), on SQLite and PostgreSQL.

#![allow(clippy::expect_used, clippy::unwrap_used, reason = "a test fails loudly at the first broken expectation")]

#[macro_use]
mod common;

mod architecture;
mod audit_chain;
mod auth;
mod authorization;
mod checklists;
mod cli;
mod console;
mod errors;
mod failures;
mod feedback;
mod incidents;
mod instances;
mod jobs;
mod logs;
mod metrics;
mod migrations;
mod openapi;
mod outbox;
mod recovery;
mod safety;
mod serve;
mod signoff_pin;
mod signoffs;
mod triage;
mod users;
