//! The one hand-written schema for both backends. Portable types only: ids and JSON are `Text`,
//! times are naive UTC `Timestamp`, enums are `Text` guarded by CHECK constraints.

diesel::table! {
    users (id) {
        id -> Text,
        username -> Text,
        display_name -> Text,
        role -> Text,
        password_hash -> Text,
        active -> Bool,
        created_at -> Timestamp,
        session_epoch -> BigInt,
    }
}

diesel::table! {
    customers (id) {
        id -> Text,
        name -> Text,
        phone -> Nullable<Text>,
        email -> Nullable<Text>,
        preferences -> Text,
        notes -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    checklist_versions (checklist_key, version) {
        checklist_key -> Text,
        version -> Integer,
        title -> Text,
        trade -> Text,
        body -> Text,
        content_hash -> Text,
        published_at -> Timestamp,
        published_by -> Nullable<Text>,
    }
}

diesel::table! {
    sync_counters (number) {
        number -> Integer,
        technician_id -> Text,
        last_change -> BigInt,
    }
}

diesel::table! {
    jobs (id) {
        id -> Text,
        customer_id -> Text,
        site_address -> Text,
        site_postcode -> Text,
        site_notes -> Nullable<Text>,
        technician_id -> Text,
        checklist_key -> Text,
        checklist_version -> Integer,
        scheduled_for -> Timestamp,
        status -> Text,
        created_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        change_seq -> BigInt,
    }
}

diesel::table! {
    signoffs (id) {
        id -> Text,
        job_id -> Text,
        technician_id -> Text,
        checklist_key -> Text,
        checklist_version -> Integer,
        answers -> Text,
        failed_items -> Text,
        signed_at -> Timestamp,
        received_at -> Timestamp,
        signer_name -> Text,
        meaning -> Text,
        content_hash -> Text,
        chain_seq -> Nullable<BigInt>,
        prev_hash -> Nullable<Text>,
        row_hash -> Nullable<Text>,
        reauthenticated -> Bool,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Text,
        at -> Timestamp,
        actor_id -> Nullable<Text>,
        actor -> Text,
        action -> Text,
        entity_type -> Text,
        entity_id -> Text,
        details -> Text,
        chain_seq -> Nullable<BigInt>,
        prev_hash -> Nullable<Text>,
        row_hash -> Nullable<Text>,
    }
}

diesel::table! {
    audit_chain_heads (chain) {
        chain -> Text,
        length -> BigInt,
        head_hash -> Text,
    }
}

diesel::table! {
    failure_reports (id) {
        id -> Text,
        source -> Text,
        job_id -> Text,
        signoff_id -> Nullable<Text>,
        reported_by -> Text,
        reported_at -> Timestamp,
        description -> Text,
        item_ids -> Text,
        hazards -> Text,
        injury -> Bool,
        vulnerable_occupant -> Bool,
        service_lost -> Nullable<Text>,
        content_hash -> Text,
        chain_seq -> Nullable<BigInt>,
        prev_hash -> Nullable<Text>,
        row_hash -> Nullable<Text>,
    }
}

diesel::table! {
    failure_items (failure_id, item_id) {
        failure_id -> Text,
        item_id -> Text,
        checklist_key -> Text,
        checklist_version -> Integer,
        technician_id -> Text,
        reported_at -> Timestamp,
    }
}

diesel::table! {
    incidents (id) {
        id -> Text,
        failure_id -> Text,
        job_id -> Text,
        customer_id -> Text,
        technician_id -> Text,
        checklist_key -> Text,
        severity -> Text,
        severity_rank -> Integer,
        original_severity -> Text,
        reasons -> Text,
        rules_version -> Text,
        is_repeat -> Bool,
        status -> Text,
        assignee_id -> Nullable<Text>,
        reported_at -> Timestamp,
        updated_at -> Timestamp,
        revision -> BigInt,
        queue_rank -> Integer,
        triage_due_at -> Nullable<Timestamp>,
        triaged_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    make_safe_visits (id) {
        id -> Text,
        incident_id -> Text,
        checklist_key -> Text,
        due_at -> Timestamp,
        status -> Text,
        job_id -> Nullable<Text>,
        outcome -> Nullable<Text>,
        signoff_id -> Nullable<Text>,
        note -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    safety_audits (id) {
        id -> Text,
        incident_id -> Text,
        auditor_id -> Text,
        confirmed_severity -> Text,
        root_cause -> Text,
        root_cause_detail -> Text,
        corrective_actions -> Text,
        recorded_at -> Timestamp,
    }
}

diesel::table! {
    retraining_assignments (id) {
        id -> Text,
        incident_id -> Text,
        technician_id -> Text,
        checklist_key -> Text,
        item_ids -> Text,
        cause -> Text,
        due_at -> Timestamp,
        status -> Text,
        trained_at -> Nullable<Timestamp>,
        trained_by -> Nullable<Text>,
        note -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    disciplinary_cases (id) {
        id -> Text,
        incident_id -> Text,
        technician_id -> Text,
        status -> Text,
        behaviour -> Nullable<Text>,
        system_factors -> Text,
        technician_statement -> Nullable<Text>,
        outcome -> Nullable<Text>,
        outcome_reason -> Nullable<Text>,
        proposed_by -> Nullable<Text>,
        approved_by -> Nullable<Text>,
        note -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    recovery_cases (id) {
        id -> Text,
        incident_id -> Text,
        customer_id -> Text,
        due_at -> Timestamp,
        status -> Text,
        fixed_at -> Nullable<Timestamp>,
        apologised_at -> Nullable<Timestamp>,
        remedy_settled_at -> Nullable<Timestamp>,
        recovered_at -> Nullable<Timestamp>,
        apology_text -> Nullable<Text>,
        remedy_id -> Nullable<Text>,
        remedy_value_gbp -> Nullable<Double>,
        remedy_status -> Nullable<Text>,
        remedy_proposed_by -> Nullable<Text>,
        remedy_approved_by -> Nullable<Text>,
        policy_version -> Nullable<Text>,
        fix_job_id -> Nullable<Text>,
        explanation_due_at -> Nullable<Timestamp>,
        explanation_text -> Nullable<Text>,
        root_cause -> Nullable<Text>,
        explained_at -> Nullable<Timestamp>,
        surprise_given -> Nullable<Bool>,
        surprise_note -> Nullable<Text>,
        note -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    outbox_messages (id) {
        id -> Text,
        dedup_key -> Text,
        customer_id -> Text,
        recovery_case_id -> Nullable<Text>,
        kind -> Text,
        subject -> Text,
        body -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        claimed_by -> Nullable<Text>,
        claimed_until -> Nullable<Timestamp>,
        channel -> Nullable<Text>,
        recipient -> Nullable<Text>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        delivered_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    feedback_requests (id) {
        id -> Text,
        recovery_case_id -> Text,
        customer_id -> Text,
        expires_at -> Timestamp,
        created_at -> Timestamp,
        answered_at -> Nullable<Timestamp>,
        satisfaction -> Nullable<Integer>,
        surprised -> Nullable<Bool>,
        surprise_note -> Nullable<Text>,
        comment -> Nullable<Text>,
    }
}

diesel::table! {
    signoff_pins (user_id) {
        user_id -> Text,
        pin_hash -> Text,
        set_at -> Timestamp,
    }
}

diesel::joinable!(jobs -> customers (customer_id));
diesel::joinable!(incidents -> failure_reports (failure_id));
diesel::joinable!(signoffs -> jobs (job_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    customers,
    checklist_versions,
    sync_counters,
    jobs,
    signoffs,
    audit_log,
    failure_reports,
    failure_items,
    incidents,
    make_safe_visits,
    safety_audits,
    retraining_assignments,
    disciplinary_cases,
    recovery_cases,
    outbox_messages,
    feedback_requests,
    signoff_pins,
);
