//! Severity grades and hazard tags: the shared vocabulary of checklists and failure reports.

use serde::{Deserialize, Serialize};

/// How bad a failure is, from a nuisance to a danger to people. Ordered: a higher grade is worse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Nuisance,
    ServiceImpacting,
    SafetyCritical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Nuisance => "nuisance",
            Self::ServiceImpacting => "service_impacting",
            Self::SafetyCritical => "safety_critical",
        }
    }
}

/// What a failure can put at risk. The first seven are dangers to people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Hazard {
    Gas,
    CarbonMonoxide,
    Electrical,
    Fire,
    Scald,
    Explosion,
    WorkingAtHeight,
    WaterDamage,
    PropertyDamage,
    ServiceOutage,
}

impl Hazard {
    /// Whether this hazard endangers people (as opposed to property or service).
    pub fn endangers_people(self) -> bool {
        matches!(
            self,
            Self::Gas
                | Self::CarbonMonoxide
                | Self::Electrical
                | Self::Fire
                | Self::Scald
                | Self::Explosion
                | Self::WorkingAtHeight
        )
    }
}
