//! fieldproof: versioned job checklists, immutable sign-offs and failure handling for
//! field-service companies. `main.rs` is the CLI; this crate builds the app for it and the tests.

pub mod auth;
pub mod catalogue;
pub mod clock;
pub mod config;
pub mod console;
pub mod credentials;
pub mod db;
pub mod domain;
pub mod error;
pub mod http;
pub mod outbox;
pub mod telemetry;
pub mod workflows;

use std::sync::Arc;

use actix_web::web;

use crate::auth::token::TokenService;
use crate::catalogue::Catalogue;
use crate::clock::Clock;
use crate::config::Settings;
use crate::credentials::links::FeedbackLinks;
use crate::db::Db;
use crate::domain::recovery::Policy;
use crate::domain::rules::RuleSet;

/// What every request can reach.
pub struct AppState {
    pub db: Db,
    pub tokens: TokenService,
    /// Shared with the outbox worker, which puts each customer's link into their message.
    pub links: Arc<FeedbackLinks>,
    pub catalogue: Catalogue,
    /// The severity rule set in force (the latest version in the checklist directory).
    pub rules: RuleSet,
    /// The customer recovery policy in force (the latest version in the checklist directory).
    pub policy: Policy,
    /// Shared with the outbox worker.
    pub clock: Arc<Clock>,
    pub settings: Settings,
    /// Accounts' session epochs, remembered for a few seconds.
    pub sessions: auth::Sessions,
    /// Failed sign-ins per username and client address.
    pub sign_ins: auth::throttle::SignInThrottle,
    /// Wrong sign-off PINs per user and client address, counted and locked out like sign-ins.
    pub pin_attempts: auth::throttle::SignInThrottle,
    /// Password checks (Argon2, deliberately slow) allowed at once, so a flood of sign-ins cannot
    /// take every blocking thread from the rest of the API.
    pub password_checks: tokio::sync::Semaphore,
}

impl AppState {
    pub fn new(db: Db, settings: Settings, rules: RuleSet, policy: Policy, clock: Clock) -> Self {
        let jwt = &settings.jwt;
        let tokens = TokenService::new(&jwt.secret, &jwt.issuer, &jwt.audience, jwt.ttl);
        let contact = &settings.customers;
        let links = Arc::new(FeedbackLinks::new(&jwt.secret, &contact.public_url, contact.feedback_link_ttl));
        let clock = Arc::new(clock);
        // Installs the process's metrics recorder before the first request is counted.
        telemetry::prometheus();
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        Self {
            db,
            tokens,
            links,
            catalogue: Catalogue::default(),
            rules,
            policy,
            clock,
            settings,
            sessions: auth::Sessions::default(),
            sign_ins: auth::throttle::SignInThrottle::new(),
            pin_attempts: auth::throttle::SignInThrottle::new(),
            password_checks: tokio::sync::Semaphore::new(cores),
        }
    }
}

impl AppState {
    /// What the business actions read besides the database.
    pub fn context(&self) -> workflows::Context<'_> {
        workflows::Context {
            catalogue: &self.catalogue,
            rules: &self.rules,
            safety: &self.settings.safety,
            policy: &self.policy,
            links: &self.links,
        }
    }
}

/// Headers every response carries unless a handler set its own: no MIME sniffing, no referrer, and a
/// content policy that lets the service's own pages use their inline style and post their own forms,
/// and nothing else (no scripts, no framing).
pub fn security_headers() -> actix_web::middleware::DefaultHeaders {
    actix_web::middleware::DefaultHeaders::new()
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "no-referrer"))
        .add((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ))
}

/// Registers the state, body limits and every route on an actix app.
pub fn configure(state: web::Data<AppState>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        let limit = state.settings.body_limit;
        cfg.app_data(state).app_data(web::PayloadConfig::new(limit));
        http::routes(cfg);
    }
}
