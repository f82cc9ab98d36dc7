//! Sign-in throttling: failed sign-ins are counted per username and per client address in token
//! buckets (`governor`); a key that runs out of tokens is locked out, for longer each time it
//! happens again (exponential backoff), and every attempt on it meanwhile is answered 429 with
//! `Retry-After` before any password is checked.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Failed sign-ins allowed in a row before a lockout, per username.
const USER_BURST: u32 = 5;
/// One more failed sign-in is allowed per username every this long.
const USER_REFILL: Duration = Duration::from_secs(60);
/// Per client address the allowance is larger (offices share an address).
const ADDRESS_BURST: u32 = 30;
const ADDRESS_REFILL: Duration = Duration::from_secs(10);
/// The first lockout; each further one in a row doubles, up to the longest.
const FIRST_LOCKOUT: Duration = Duration::from_secs(30);
const LONGEST_LOCKOUT: Duration = Duration::from_secs(3600);
/// Keys kept before stale ones are swept.
const SWEEP_ABOVE: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    User(String),
    Address(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Lockout {
    until: Instant,
    strikes: u32,
}

/// Why a sign-in was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockedOut {
    pub retry_after: Duration,
    /// Whether the lockout fell on the username (else on the client address).
    pub username: bool,
}

pub struct SignInThrottle {
    by_user: DefaultKeyedRateLimiter<String>,
    by_address: DefaultKeyedRateLimiter<IpAddr>,
    lockouts: Mutex<HashMap<Key, Lockout>>,
}

impl Default for SignInThrottle {
    fn default() -> Self {
        Self::new()
    }
}

fn quota(burst: u32, refill: Duration) -> Quota {
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(refill).unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN)).allow_burst(burst)
}

impl SignInThrottle {
    pub fn new() -> Self {
        Self {
            by_user: RateLimiter::keyed(quota(USER_BURST, USER_REFILL)),
            by_address: RateLimiter::keyed(quota(ADDRESS_BURST, ADDRESS_REFILL)),
            lockouts: Mutex::new(HashMap::new()),
        }
    }

    /// Whether this username or address is locked out now (checked before any password work).
    pub fn check(&self, username: &str, address: Option<IpAddr>) -> Result<(), LockedOut> {
        let now = Instant::now();
        let lockouts = self.lockouts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let keys = std::iter::once(Key::User(username.to_lowercase())).chain(address.map(Key::Address));
        for key in keys {
            if let Some(lockout) = lockouts.get(&key).filter(|l| l.until > now) {
                return Err(LockedOut { retry_after: lockout.until - now, username: matches!(key, Key::User(_)) });
            }
        }
        Ok(())
    }

    /// Counts a failed sign-in; returns the lockout it starts, if it used up an allowance.
    pub fn failed(&self, username: &str, address: Option<IpAddr>) -> Option<LockedOut> {
        let user = username.to_lowercase();
        let mut locked = None;
        if self.by_user.check_key(&user).is_err() {
            locked = Some(self.lock(Key::User(user), true));
        }
        if let Some(address) = address
            && self.by_address.check_key(&address).is_err()
        {
            locked = locked.or(Some(self.lock(Key::Address(address), false)));
        }
        if self.by_user.len() + self.by_address.len() > SWEEP_ABOVE {
            self.by_user.retain_recent();
            self.by_address.retain_recent();
        }
        locked
    }

    /// A successful sign-in clears the username's strikes.
    pub fn succeeded(&self, username: &str) {
        let mut lockouts = self.lockouts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        lockouts.remove(&Key::User(username.to_lowercase()));
    }

    fn lock(&self, key: Key, username: bool) -> LockedOut {
        let now = Instant::now();
        let mut lockouts = self.lockouts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if lockouts.len() > SWEEP_ABOVE {
            lockouts.retain(|_, l| l.until + LONGEST_LOCKOUT > now);
        }
        let strikes = lockouts.get(&key).map_or(0, |l| l.strikes) + 1;
        let backoff = FIRST_LOCKOUT.saturating_mul(1 << (strikes - 1).min(16)).min(LONGEST_LOCKOUT);
        lockouts.insert(key, Lockout { until: now + backoff, strikes });
        LockedOut { retry_after: backoff, username }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_username_is_locked_after_its_allowance_and_longer_each_time() {
        let throttle = SignInThrottle::new();
        let address = Some(IpAddr::from([10, 0, 0, 1]));
        let mut first = None;
        for _ in 0..=USER_BURST {
            assert!(throttle.check("Dana", address).is_ok());
            first = throttle.failed("Dana", address);
        }
        let first = first.expect("locked after the allowance");
        assert!(first.username && first.retry_after == FIRST_LOCKOUT);
        assert!(throttle.check("dana", None).is_err(), "usernames compare without case");
        assert!(throttle.check("tess", address).is_ok(), "another user from the same address is not locked");
        let second = throttle.failed("dana", address).expect("still over the allowance");
        assert_eq!(second.retry_after, FIRST_LOCKOUT * 2, "the next lockout doubles");
        throttle.succeeded("dana");
        assert!(throttle.check("dana", address).is_ok());
    }
}
