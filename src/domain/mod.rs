//! Pure rules of the trade: checklist templates and their validation, sign-off answer checks,
//! severity and hazards. No diesel, no actix, no clock: time and ids come in as arguments.

pub mod checklist;
pub mod evaluation;
pub mod metrics;
pub mod net;
pub mod recovery;
pub mod role;
pub mod rules;
pub mod safety;
pub mod severity;
pub mod signoff;
pub mod text;

pub use role::Role;
