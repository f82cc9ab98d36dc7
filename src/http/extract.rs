//! Request extractors that answer bad input with problem+json naming the field: JSON bodies
//! (syntax → 400, shape → 422 with the JSON path), validated bodies, and path/query errors.

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, web};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use validator::{Validate, ValidationErrors, ValidationErrorsKind};

use crate::domain::names::Named;
use crate::error::{ApiError, FieldError};

/// A JSON body, parsed with the path of the offending field reported on failure.
pub struct Json<T>(pub T);

/// A JSON body that also passed its `validator` rules.
pub struct ValidJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = req
            .mime_type()
            .ok()
            .flatten()
            .is_some_and(|m| m.subtype() == "json" || m.suffix().is_some_and(|s| s == "json"));
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !is_json {
                return Err(ApiError::UnsupportedMediaType(
                    "send the body as `Content-Type: application/json`".to_owned(),
                ));
            }
            let bytes = body.await.map_err(|err| match err.as_response_error().status_code().as_u16() {
                413 => ApiError::PayloadTooLarge("the request body is larger than the service accepts".to_owned()),
                _ => ApiError::BadRequest(format!("cannot read the request body: {err}")),
            })?;
            parse(&bytes).map(Json)
        })
    }
}

impl<T: DeserializeOwned + Validate + 'static> FromRequest for ValidJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = Json::<T>::from_request(req, payload);
        Box::pin(async move {
            let Json(value) = json.await?;
            value.validate()?;
            Ok(ValidJson(value))
        })
    }
}

/// A control character other than tab, newline and carriage return: never meant in a field, and some
/// (NUL) cannot be stored at all.
pub fn is_forbidden_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

/// The JSON paths (`answers[2].note`, `username`) of every string or key holding a forbidden control.
fn control_characters(value: &serde_json::Value, path: &str, found: &mut Vec<String>) {
    let at = |key: &str| if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") };
    match value {
        serde_json::Value::String(s) if s.chars().any(is_forbidden_control) => {
            found.push(if path.is_empty() { "body".to_owned() } else { path.to_owned() });
        }
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                control_characters(item, &format!("{path}[{i}]"), found);
            }
        }
        serde_json::Value::Object(fields) => {
            for (key, item) in fields {
                if key.chars().any(is_forbidden_control) {
                    found.push(at(&key.replace(is_forbidden_control, "?")));
                }
                control_characters(item, &at(key), found);
            }
        }
        _ => {}
    }
}

/// Deserializes `bytes`; a type or shape error names the field by its JSON path, and so does a
/// string holding a control character (JSON only carries them escaped, as `\u00XX`).
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let escaped_control = bytes.windows(6).any(|w| {
        w[0] == b'\\'
            && w[1] == b'u'
            && w[2] == b'0'
            && w[3] == b'0'
            && (matches!(w[4], b'0' | b'1') || w[4..6] == *b"7f" || w[4..6] == *b"7F")
    });
    if escaped_control && let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) {
        let mut found = Vec::new();
        control_characters(&value, "", &mut found);
        if !found.is_empty() {
            return Err(ApiError::Validation(
                found.into_iter().map(|f| FieldError::new(f, "must not contain control characters")).collect(),
            ));
        }
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::BadRequest(format!("the body is not valid JSON: {inner}"));
        }
        let message = inner.to_string();
        let message = message.split(" at line ").next().unwrap_or(&message).to_owned();
        ApiError::Validation(vec![FieldError::new(field_path(&path, &message), message)])
    })
}

/// serde reports a missing or repeated field at its parent; name the field itself.
fn field_path(path: &str, message: &str) -> String {
    let parent = if path == "." { "" } else { path };
    let named = ["missing field `", "duplicate field `"].iter().find_map(|prefix| message.strip_prefix(prefix));
    match named.and_then(|rest| rest.split('`').next()) {
        Some(field) if parent.is_empty() => field.to_owned(),
        Some(field) => format!("{parent}.{field}"),
        None if parent.is_empty() => "body".to_owned(),
        None => parent.to_owned(),
    }
}

/// Flattens `validator` errors into `{field, message}` entries with dotted/indexed paths.
pub fn field_errors(errors: &ValidationErrors, prefix: &str) -> Vec<FieldError> {
    let mut out = Vec::new();
    for (field, kind) in errors.errors() {
        let path = if prefix.is_empty() { field.to_string() } else { format!("{prefix}.{field}") };
        match kind {
            ValidationErrorsKind::Field(errs) => out.extend(errs.iter().map(|e| {
                let message = e.message.as_ref().map(ToString::to_string).unwrap_or_else(|| describe(e));
                FieldError::new(path.clone(), message)
            })),
            ValidationErrorsKind::Struct(inner) => out.extend(field_errors(inner, &path)),
            ValidationErrorsKind::List(items) => {
                for (index, inner) in items {
                    out.extend(field_errors(inner, &format!("{path}[{index}]")));
                }
            }
        }
    }
    out.sort_by(|a, b| a.field.cmp(&b.field));
    out
}

fn describe(error: &validator::ValidationError) -> String {
    let param = |name: &str| error.params.get(name).map(ToString::to_string);
    match error.code.as_ref() {
        "length" => match (param("min"), param("max")) {
            (Some(min), Some(max)) => format!("must be {min} to {max} long"),
            (Some(min), None) => format!("must be at least {min} long"),
            (None, Some(max)) => format!("must be at most {max} long"),
            (None, None) => "has the wrong length".to_owned(),
        },
        "email" => "must be an email address".to_owned(),
        "range" => "is out of range".to_owned(),
        code => format!("is not valid ({code})"),
    }
}

/// A query string, parsed with the offending parameter named on failure (422).
pub struct Query<T>(pub T);

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let controls: Vec<FieldError> = form_urlencoded_pairs(req.query_string())
            .filter(|(key, value)| key.chars().chain(value.chars()).any(is_forbidden_control))
            .map(|(key, _)| {
                FieldError::new(key.replace(is_forbidden_control, "?"), "must not contain control characters")
            })
            .collect();
        if !controls.is_empty() {
            return std::future::ready(Err(ApiError::Validation(controls)));
        }
        let pairs = form_urlencoded_pairs(req.query_string());
        let de = serde_urlencoded::Deserializer::new(pairs);
        std::future::ready(serde_path_to_error::deserialize(de).map(Query).map_err(|err| {
            let path = err.path().to_string();
            let message = err.into_inner().to_string();
            ApiError::Validation(vec![FieldError::new(field_path(&path, &message).replace("body", "query"), message)])
        }))
    }
}

fn form_urlencoded_pairs(query: &str) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(query.as_bytes())
}

/// A comma-separated `status` filter, each value one of `allowed` (422 otherwise).
pub fn status_filter<S: Named>(raw: Option<String>, default: &[S]) -> Result<Vec<S>, ApiError> {
    let Some(raw) = raw else { return Ok(default.to_vec()) };
    raw.split(',').map(|s| S::parse(s.trim())).collect::<Option<Vec<S>>>().ok_or_else(|| {
        let allowed: Vec<&str> = S::ALL.iter().map(|s| s.as_str()).collect();
        ApiError::field("status", format!("comma-separated: {}", allowed.join(", ")))
    })
}

/// Path segments that do not parse (a malformed id) name nothing that exists: 404.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err, _| ApiError::NotFound(format!("no such resource: {err}")).into())
}
