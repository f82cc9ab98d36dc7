//! Pure rules of the trade: checklist templates and their validation, sign-off answer checks,
//! severity and hazards. No diesel, no actix, no clock: time and ids come in as arguments.

pub mod cases;
pub mod checklist;
pub mod disciplinary;
pub mod evaluation;
pub mod make_safe;
pub mod metrics;
pub mod names;
pub mod net;
pub mod recovery;
pub mod recovery_case;
pub mod retraining;
pub mod role;
pub mod rules;
pub mod safety;
pub mod severity;
pub mod signoff;
pub mod states;
pub mod text;

pub use role::Role;
