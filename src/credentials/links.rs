//! Customers' feedback links. Customers are not users: the link itself is the credential, a token
//! signed with the service secret (HS256), naming one feedback request and when it expires. The
//! database makes it single-use; the token makes it unforgeable.
//!
//! Whoever holds the link answers as the customer, so it reaches the customer alone: the stored
//! message holds [`LINK_PLACEHOLDER`] where the link goes, the outbox worker puts the link in only
//! for the email or webhook it sends, and staff (`GET /v1/messages`) and the service log see the
//! place of the link with the token withheld.

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};

use crate::workflows::Error;

/// The audience of feedback tokens: a sign-in token is not a feedback link, nor the other way round.
const AUDIENCE: &str = "fieldproof-feedback";

#[derive(Debug, Serialize, Deserialize)]
struct LinkClaims {
    /// The feedback request's id.
    sub: String,
    aud: String,
    exp: i64,
}

/// Stands for the customer's feedback link in a stored message body.
pub const LINK_PLACEHOLDER: &str = "{feedback_link}";

/// A message body with the customer's link in the placeholder's place.
pub fn with_link(body: &str, link: &str) -> String {
    body.replace(LINK_PLACEHOLDER, link)
}

/// Whether a message body waits for a feedback link.
pub fn needs_link(body: &str) -> bool {
    body.contains(LINK_PLACEHOLDER)
}

/// Issues and checks feedback links.
pub struct FeedbackLinks {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// Where customers reach the service, e.g. `https://service.example.com`.
    base_url: String,
    /// How long a link works.
    pub ttl: chrono::Duration,
}

impl FeedbackLinks {
    pub fn new(secret: &[u8], base_url: &str, ttl: chrono::Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "aud", "sub"]);
        validation.set_audience(&[AUDIENCE]);
        // why: expiry is checked against the service clock (tests drive it), not the system clock.
        validation.validate_exp = false;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            base_url: base_url.trim_end_matches('/').to_owned(),
            ttl,
        }
    }

    /// The link to the feedback form of request `id`, working until `expires_at`.
    pub fn link(&self, id: &str, expires_at: DateTime<Utc>) -> anyhow::Result<String> {
        let claims = LinkClaims { sub: id.to_owned(), aud: AUDIENCE.to_owned(), exp: expires_at.timestamp() };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok(format!("{}/feedback/{token}", self.base_url))
    }

    /// A message body as staff see it: where the link goes, without its token.
    pub fn redacted(&self, body: &str) -> String {
        with_link(body, &format!("{}/feedback/[link sent to the customer only]", self.base_url))
    }

    /// The feedback request a token names: 404 when it is not ours, 410 when it has expired.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<String, Error> {
        let claims = decode::<LinkClaims>(token, &self.decoding, &self.validation)
            .map_err(|_| Error::NotFound("this feedback link is not valid".to_owned()))?
            .claims;
        if claims.exp < now.timestamp() {
            return Err(Error::Gone("this feedback link has expired".to_owned()));
        }
        Ok(claims.sub)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_is_the_same_each_time_and_staff_see_it_without_its_token() {
        let links = FeedbackLinks::new(
            b"a-secret-of-at-least-32-bytes-long!!",
            "https://care.example/",
            chrono::Duration::days(14),
        );
        let expires = DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::days(20_000);
        let link = links.link("request-1", expires).expect("link");
        assert_eq!(link, links.link("request-1", expires).expect("link"), "a redelivery carries the same link");
        let body = format!("Tell us how we did: {LINK_PLACEHOLDER}\nThanks");
        assert!(needs_link(&body));
        assert_eq!(with_link(&body, &link), format!("Tell us how we did: {link}\nThanks"));
        let token = link.rsplit('/').next().expect("token");
        let shown = links.redacted(&body);
        assert!(shown.contains("https://care.example/feedback/") && !shown.contains(token), "{shown}");
    }
}
