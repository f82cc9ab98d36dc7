//! Typed columns over both backends. Statuses and other closed sets are domain enums stored as
//! their text; JSON columns are `Json<T>`, stored as text and decoded once, here. Both are
//! generic over the backend, so they work through `MultiConnection` (the pattern of
//! vaultwarden's `impl_FromToSqlText!`).

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, Queryable};
use diesel::expression::AsExpression;
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::{Nullable, SingleValue, Text};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Stores a domain enum with `as_str`/`parse` as its text, on both backends.
macro_rules! text_column {
    ($($ty:ty),+ $(,)?) => {$(
        impl<DB: Backend> ToSql<Text, DB> for $ty
        where
            str: ToSql<Text, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                self.as_str().to_sql(out)
            }
        }

        impl<DB: Backend> FromSql<Text, DB> for $ty
        where
            String: FromSql<Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                let text = String::from_sql(bytes)?;
                <$ty>::parse(&text).ok_or_else(|| format!("`{text}` is not a {}", stringify!($ty)).into())
            }
        }

        impl<DB, ST> Queryable<ST, DB> for $ty
        where
            DB: Backend,
            ST: SingleValue,
            Self: FromSql<ST, DB>,
        {
            type Row = Self;

            fn build(row: Self) -> deserialize::Result<Self> {
                Ok(row)
            }
        }

        impl AsExpression<Text> for $ty {
            type Expression = <&'static str as AsExpression<Text>>::Expression;

            fn as_expression(self) -> Self::Expression {
                <&'static str as AsExpression<Text>>::as_expression(self.as_str())
            }
        }

        impl AsExpression<Text> for &$ty {
            type Expression = <&'static str as AsExpression<Text>>::Expression;

            fn as_expression(self) -> Self::Expression {
                <&'static str as AsExpression<Text>>::as_expression(self.as_str())
            }
        }

        impl AsExpression<Nullable<Text>> for $ty {
            type Expression = <&'static str as AsExpression<Nullable<Text>>>::Expression;

            fn as_expression(self) -> Self::Expression {
                <&'static str as AsExpression<Nullable<Text>>>::as_expression(self.as_str())
            }
        }

        impl AsExpression<Nullable<Text>> for &$ty {
            type Expression = <&'static str as AsExpression<Nullable<Text>>>::Expression;

            fn as_expression(self) -> Self::Expression {
                <&'static str as AsExpression<Nullable<Text>>>::as_expression(self.as_str())
            }
        }
    )+};
}

use crate::domain::Role;
use crate::domain::disciplinary::CaseStatus;
use crate::domain::make_safe::{VisitOutcome, VisitStatus};
use crate::domain::recovery_case::{RecoveryStatus, RemedyStatus};
use crate::domain::retraining::{RetrainingCause, RetrainingStatus};
use crate::domain::safety::{Behaviour, Outcome, RootCause};
use crate::domain::severity::Severity;
use crate::domain::states::{FailureSource, IncidentStatus, JobStatus, MessageKind, MessageStatus};

text_column!(
    Role,
    Severity,
    JobStatus,
    FailureSource,
    IncidentStatus,
    MessageStatus,
    MessageKind,
    VisitStatus,
    VisitOutcome,
    RetrainingStatus,
    RetrainingCause,
    CaseStatus,
    Behaviour,
    Outcome,
    RootCause,
    RecoveryStatus,
    RemedyStatus,
);

/// A JSON column: the value and the text it is stored as. Text read from the database is kept
/// as read, so a hashed row writes back byte for byte what it was hashed over.
#[derive(Debug, Clone)]
pub struct Json<T> {
    value: T,
    text: String,
}

impl<T: Serialize> Json<T> {
    pub fn new(value: T) -> serde_json::Result<Self> {
        let text = serde_json::to_string(&value)?;
        Ok(Self { value, text })
    }
}

impl<T> Json<T> {
    /// The stored text.
    pub fn text(&self) -> &str {
        &self.text
    }
}

impl<T> std::ops::Deref for Json<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: PartialEq> PartialEq for Json<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<T, DB: Backend> ToSql<Text, DB> for Json<T>
where
    T: std::fmt::Debug,
    str: ToSql<Text, DB>,
{
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
        self.text.as_str().to_sql(out)
    }
}

impl<T: DeserializeOwned, DB: Backend> FromSql<Text, DB> for Json<T>
where
    String: FromSql<Text, DB>,
{
    fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
        let text = String::from_sql(bytes)?;
        let value = serde_json::from_str(&text)?;
        Ok(Self { value, text })
    }
}

impl<T, DB, ST> Queryable<ST, DB> for Json<T>
where
    DB: Backend,
    ST: SingleValue,
    Self: FromSql<ST, DB>,
{
    type Row = Self;

    fn build(row: Self) -> deserialize::Result<Self> {
        Ok(row)
    }
}

impl<T> AsExpression<Text> for Json<T> {
    type Expression = <String as AsExpression<Text>>::Expression;

    fn as_expression(self) -> Self::Expression {
        <String as AsExpression<Text>>::as_expression(self.text)
    }
}

impl<T> AsExpression<Nullable<Text>> for Json<T> {
    type Expression = <String as AsExpression<Nullable<Text>>>::Expression;

    fn as_expression(self) -> Self::Expression {
        <String as AsExpression<Nullable<Text>>>::as_expression(self.text)
    }
}

impl<'a, T> AsExpression<Text> for &'a Json<T> {
    type Expression = <&'a str as AsExpression<Text>>::Expression;

    fn as_expression(self) -> Self::Expression {
        <&'a str as AsExpression<Text>>::as_expression(&self.text)
    }
}

impl<'a, T> AsExpression<Nullable<Text>> for &'a Json<T> {
    type Expression = <&'a str as AsExpression<Nullable<Text>>>::Expression;

    fn as_expression(self) -> Self::Expression {
        <&'a str as AsExpression<Nullable<Text>>>::as_expression(&self.text)
    }
}
