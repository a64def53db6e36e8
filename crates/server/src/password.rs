//! Password hashing (argon2id): a leaf module of its own, used by the routes that create
//! accounts and sign in, and by the state for the dummy hash that evens out sign-in timing.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::config::Argon2Cost;
use crate::error::AppError;

/// Lets at most [`crate::Config::max_concurrent_hashes`] password hashes (or checks) run at
/// once. Each takes the argon2 memory cost (19 MiB by default) and a core for tens of
/// milliseconds: with only the request limit (512), sign-ins sent at once could ask for
/// gigabytes. The others wait their turn, as many as the request limit lets in, each for at
/// most the request timeout (then 408).
#[derive(Debug)]
pub struct HashGate {
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
}

impl HashGate {
    /// A gate with `slots` hashes at once (at least one).
    pub fn new(slots: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(slots.max(1))),
            waiting: AtomicUsize::new(0),
        }
    }

    /// Runs `work` (a hash or a check) on the blocking pool once a slot is free. The slot is
    /// held until `work` returns, even when the request that asked is dropped meanwhile (a
    /// blocking task cannot be stopped).
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AppError> {
        let slot = {
            self.waiting.fetch_add(1, Ordering::SeqCst);
            let _counted = Waiting(&self.waiting);
            Arc::clone(&self.slots)
                .acquire_owned()
                .await
                .map_err(|_| AppError::Internal("the password hash gate closed".to_owned()))?
        };
        Ok(tokio::task::spawn_blocking(move || {
            let _slot = slot;
            work()
        })
        .await?)
    }

    /// Requests waiting for a slot now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// Takes a slot away until the permit is dropped (tests hold the gate shut with it).
    pub async fn hold(&self) -> tokio::sync::OwnedSemaphorePermit {
        Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .expect("the gate's semaphore is never closed")
    }
}

/// Counts a request out of [`HashGate::waiting`] when it got its slot or was dropped.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn argon2(cost: Argon2Cost) -> Result<Argon2<'static>, AppError> {
    let params = Params::new(cost.m_kib, cost.t, cost.p, None)
        .map_err(|e| AppError::Internal(format!("argon2 params: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password with a fresh random salt; the PHC string carries salt and parameters.
/// Blocking and slow by design: call it on the blocking pool.
pub fn hash_password(cost: Argon2Cost, password: &str) -> Result<String, AppError> {
    let mut salt = [0_u8; 16];
    getrandom::fill(&mut salt).map_err(|e| AppError::Internal(format!("getrandom: {e}")))?;
    let salt =
        SaltString::encode_b64(&salt).map_err(|e| AppError::Internal(format!("salt: {e}")))?;
    argon2(cost)?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(format!("argon2: {e}")))
}

/// Whether `password` matches the PHC string `hash`. Blocking and slow by design.
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_are_salted() {
        let cost = Argon2Cost::insecure_for_tests();
        let a = hash_password(cost, "correct horse").expect("hash");
        let b = hash_password(cost, "correct horse").expect("hash");
        assert_ne!(a, b);
        assert!(a.starts_with("$argon2id$"));
        assert!(verify_password(&a, "correct horse"));
        assert!(!verify_password(&a, "wrong horse"));
        assert!(!verify_password("garbage", "x"));
    }
}
