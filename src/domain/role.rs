//! Who may do what: the four roles of the people who use the service.

use serde::{Deserialize, Serialize};

/// What a user may do. Technicians work jobs; dispatchers issue them and handle incidents;
/// safety officers audit high-severity failures; admins publish checklists and manage users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum Role {
    Technician,
    Dispatcher,
    SafetyOfficer,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Technician => "technician",
            Self::Dispatcher => "dispatcher",
            Self::SafetyOfficer => "safety_officer",
            Self::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Technician, Self::Dispatcher, Self::SafetyOfficer, Self::Admin].into_iter().find(|r| r.as_str() == s)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
