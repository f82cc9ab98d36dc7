//! Password hashing with Argon2id (PHC strings in the database), also used for technicians'
//! sign-off PINs. Slow by design: call from blocking code only.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};

pub const MIN_PASSWORD_LEN: usize = 12;

/// What a sign-off PIN must be, as the error says it.
pub const PIN_RULE: &str = "4 to 8 digits";

/// Whether `pin` follows [`PIN_RULE`].
pub fn is_well_formed_pin(pin: &str) -> bool {
    (4..=8).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit())
}

pub fn hash(password: &str) -> anyhow::Result<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("cannot hash password: {e}"))
}

/// Whether `password` matches `phc`. A malformed stored hash never matches.
pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// Spends the same effort as a real check, so an unknown username answers as slowly as a wrong
/// password (no user enumeration by timing).
pub fn verify_dummy(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let phc = DUMMY.get_or_init(|| hash("fieldproof-dummy-password").unwrap_or_default());
    let _ = verify(password, phc);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_is_four_to_eight_digits() {
        for good in ["0000", "1234", "01234567"] {
            assert!(is_well_formed_pin(good), "{good}");
        }
        for bad in ["", "123", "123456789", "12a4", " 1234", "１２３４", "12.4"] {
            assert!(!is_well_formed_pin(bad), "{bad}");
        }
    }
}
