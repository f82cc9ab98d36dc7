//! The states of the records that are not cases with steps of their own: jobs, failure reports,
//! incidents and customer messages. (Make-safe visits, retraining, disciplinary and recovery
//! cases have their state machines in their own modules.)

use super::names::named_enum;

named_enum! {
    /// Where a job stands.
    pub enum JobStatus {
        /// Issued to a technician, not yet signed off.
        Scheduled = "scheduled",
        /// Signed off (once; a sign-off is immutable).
        SignedOff = "signed_off",
    }
}

named_enum! {
    /// How a failure reached the service.
    pub enum FailureSource {
        /// Failed items in a technician's sign-off.
        Signoff = "signoff",
        /// Reported directly (a customer call, a dispatcher).
        Report = "report",
    }
}

named_enum! {
    /// Where an incident stands in the dispatcher's work.
    pub enum IncidentStatus {
        Open = "open",
        Acknowledged = "acknowledged",
        Assigned = "assigned",
        Resolved = "resolved",
    }
}

named_enum! {
    /// Delivery state of a customer message.
    pub enum MessageStatus {
        /// Waiting for (another) delivery attempt.
        Pending = "pending",
        Delivered = "delivered",
        /// Given up after the last attempt; a dispatcher may retry it.
        Failed = "failed",
    }
}

named_enum! {
    /// What a customer message is.
    pub enum MessageKind {
        Apology = "apology",
        Explanation = "explanation",
        FeedbackRequest = "feedback_request",
    }
}
