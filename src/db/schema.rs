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
    counters (name) {
        name -> Text,
        value -> BigInt,
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
    }
}

diesel::joinable!(jobs -> customers (customer_id));
diesel::joinable!(signoffs -> jobs (job_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    customers,
    checklist_versions,
    counters,
    jobs,
    signoffs,
    audit_log,
);
