//! Passwords (argon2id), session tokens (256 random bits, stored as SHA-256), the [`Caller`]
//! extractor that turns `Authorization: Bearer` into an account, and [`Bearer`] for handlers
//! that authenticate inside their own store call.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};

use crate::config::Argon2Cost;
use crate::error::AppError;
use crate::state::AppState;
use crate::store::Store;
use crate::store::{AccountId, NewSession};

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

/// SHA-256 of a bearer token: what the database keeps.
pub fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A new random token (256 bits, hex) and the session to store for it.
pub fn new_session(ttl: std::time::Duration) -> Result<(String, NewSession), AppError> {
    let mut bytes = [0_u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| AppError::Internal(format!("getrandom: {e}")))?;
    let token = hex::encode(bytes);
    let now = now_unix();
    let ttl = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
    let session = NewSession {
        token_hash: hash_token(&token),
        created_unix: now,
        expires_unix: now.saturating_add(ttl),
    };
    Ok((token, session))
}

/// Now, in unix seconds.
pub fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Now, as RFC 3339 in UTC.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

/// The bearer token of a request, if it has a well-formed `Authorization: Bearer` header.
pub fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The 401 message for a token that names no valid session.
pub const INVALID_SESSION: &str = "This session is unknown, signed out or expired. Sign in again.";

/// The SHA-256 of a request's bearer token, not yet checked against the store: for handlers
/// that authenticate in the same store call as their work. Rejects a request without a
/// well-formed `Authorization: Bearer` header with 401.
#[derive(Clone, Copy, Debug)]
pub struct Bearer {
    /// SHA-256 of the token.
    pub token_hash: [u8; 32],
}

/// A token that used up its budget ([`crate::Config::max_requests_per_token`]) is refused
/// here, before any store call. Requests are counted once the token proved valid
/// ([`Bearer::count`]), so made-up tokens cannot fill the limiter's memory.
impl FromRequestParts<AppState> for Bearer {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let token = bearer_token(parts).ok_or(AppError::Unauthorized(
            "Sign in first: no bearer token was sent.",
        ))?;
        let token_hash = hash_token(token);
        state
            .token_requests()
            .check(&[token_hash])
            .map_err(|retry_after_secs| AppError::TooManyTokenRequests { retry_after_secs })?;
        Ok(Self { token_hash })
    }
}

impl Bearer {
    /// Counts this request against its token's budget; call once the token proved valid.
    pub fn count(&self, state: &AppState) {
        state.token_requests().record(&[self.token_hash]);
    }

    /// Checks the token against the store (one store call): the caller, or 401.
    pub async fn authenticate(self, state: &AppState) -> Result<Caller, AppError> {
        let token_hash = self.token_hash;
        let now = now_unix();
        let account = state
            .checked(state.store().session_account(&token_hash, now).await)?
            .ok_or(AppError::Unauthorized(INVALID_SESSION))?;
        self.count(state);
        Ok(Caller {
            account,
            token_hash,
        })
    }
}

/// The authenticated caller: the account of a valid, unexpired session.
#[derive(Clone, Copy, Debug)]
pub struct Caller {
    /// The caller's account.
    pub account: AccountId,
    /// SHA-256 of the caller's token (to revoke it).
    pub token_hash: [u8; 32],
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        Bearer::from_request_parts(parts, state)
            .await?
            .authenticate(state)
            .await
    }
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

    #[test]
    fn tokens_are_long_and_stored_hashed() {
        let (token, session) = new_session(std::time::Duration::from_secs(10)).expect("token");
        assert_eq!(token.len(), 64);
        assert_eq!(session.token_hash, hash_token(&token));
        assert_eq!(session.expires_unix - session.created_unix, 10);
    }
}
