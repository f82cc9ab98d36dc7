//! Bearer JWTs: HS256 only, with `exp`, `iss`, `aud` and `sub` required and checked.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode, get_current_timestamp};
use serde::{Deserialize, Serialize};

use super::Role;
use crate::error::ApiError;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user's id.
    pub sub: String,
    /// The user's username (for logs and audit entries).
    pub name: String,
    pub role: String,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    /// The user's session epoch when it was issued: a bump ends the token.
    pub epoch: i64,
}

/// Clocks of the instances behind a load balancer agree to within seconds.
const LEEWAY_SECONDS: i64 = 5;
/// How many verified tokens an instance remembers (a token is a few hundred bytes).
const VERIFIED_TOKENS: usize = 10_000;

/// Issues and verifies the service's tokens.
pub struct TokenService {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// Tokens whose signature and claims were verified, until they expire: an app sends the same
    /// token with every request, and checking its signature each time is most of the cost of a
    /// cheap read. Only tokens that passed are kept, so a forged one is checked every time. Shared,
    /// so a request copies only what it uses of them.
    verified: quick_cache::sync::Cache<String, Arc<Claims>>,
    issuer: String,
    audience: String,
    pub ttl: chrono::Duration,
}

impl TokenService {
    pub fn new(secret: &[u8], issuer: &str, audience: &str, ttl: chrono::Duration) -> Self {
        // why: the algorithm is pinned, so a token claiming `alg: none` or RS256 is refused.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECONDS.unsigned_abs();
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            verified: quick_cache::sync::Cache::new(VERIFIED_TOKENS),
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            ttl,
        }
    }

    /// A token for `user_id` valid from `now` for the configured lifetime.
    pub fn issue(
        &self,
        user_id: &str,
        username: &str,
        role: Role,
        epoch: i64,
        now: DateTime<Utc>,
    ) -> anyhow::Result<String> {
        let claims = Claims {
            sub: user_id.to_owned(),
            name: username.to_owned(),
            role: role.as_str().to_owned(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now.timestamp(),
            nbf: now.timestamp(),
            exp: (now + self.ttl).timestamp(),
            epoch,
        };
        Ok(encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?)
    }

    /// The claims of a valid token: signed by this service, for this audience, and in its time.
    pub fn verify(&self, token: &str) -> Result<Arc<Claims>, ApiError> {
        // why: the clock the full check reads (whole seconds since the epoch), not chrono's, which
        // works out the calendar date first.
        if let Some(claims) = self.verified.get(token)
            && in_time(&claims, get_current_timestamp())
        {
            return Ok(claims);
        }
        let claims = Arc::new(self.decode(token)?);
        self.verified.insert(token.to_owned(), Arc::clone(&claims));
        Ok(claims)
    }

    fn decode(&self, token: &str) -> Result<Claims, ApiError> {
        decode::<Claims>(token, &self.decoding, &self.validation).map(|data| data.claims).map_err(|err| {
            use jsonwebtoken::errors::ErrorKind;
            let why = match err.kind() {
                ErrorKind::ExpiredSignature => "the token has expired; sign in again",
                ErrorKind::ImmatureSignature => "the token is not valid yet",
                ErrorKind::InvalidSignature => "the token signature is not valid",
                ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => "the token algorithm is not accepted",
                ErrorKind::InvalidIssuer => "the token was issued by someone else",
                ErrorKind::InvalidAudience => "the token is not meant for this service",
                ErrorKind::MissingRequiredClaim(_) => "the token lacks a required claim",
                _ => "the token is not valid",
            };
            ApiError::Unauthorized(why.to_owned())
        })
    }
}

/// Whether a verified token is still within its validity at `now` (Unix seconds), with the same
/// leeway as the full check; outside it, the full check runs and says why it fails.
fn in_time(claims: &Claims, now: u64) -> bool {
    let now = i64::try_from(now).unwrap_or(i64::MAX);
    claims.nbf <= now.saturating_add(LEEWAY_SECONDS) && now <= claims.exp.saturating_add(LEEWAY_SECONDS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service() -> TokenService {
        TokenService::new(b"a-test-secret-that-is-long-enough-32", "iss", "aud", chrono::Duration::hours(1))
    }

    #[test]
    fn a_remembered_token_is_trusted_only_within_its_validity() {
        let claims = |nbf, exp| Claims {
            sub: "u".into(),
            name: "n".into(),
            role: "technician".into(),
            iss: "iss".into(),
            aud: "aud".into(),
            iat: nbf,
            nbf,
            exp,
            epoch: 0,
        };
        assert!(in_time(&claims(100, 200), 150));
        assert!(in_time(&claims(100, 200), 205), "the same leeway as the full check");
        assert!(!in_time(&claims(100, 200), 206));
        assert!(!in_time(&claims(100, 200), 94), "not valid yet");
    }

    #[test]
    fn a_forged_token_is_refused_even_after_the_genuine_one_was_remembered() -> anyhow::Result<()> {
        let tokens = service();
        let token = tokens.issue("u1", "tess", Role::Technician, 0, Utc::now())?;
        assert_eq!(tokens.verify(&token).map_err(|e| anyhow::anyhow!("{e}"))?.sub, "u1");
        assert_eq!(tokens.verify(&token).map_err(|e| anyhow::anyhow!("{e}"))?.sub, "u1", "remembered");
        // A different signature character, well inside the signature.
        let at = token.len() - 10;
        let swapped = if &token[at..=at] == "A" { "B" } else { "A" };
        let forged = format!("{}{swapped}{}", &token[..at], &token[at + 1..]);
        assert!(tokens.verify(&forged).is_err());
        let expired = tokens.issue("u1", "tess", Role::Technician, 0, Utc::now() - chrono::Duration::hours(2))?;
        assert!(tokens.verify(&expired).is_err());
        Ok(())
    }
}
