//! Session tokens (256 random bits, stored as SHA-256), the [`Caller`]
//! extractor that turns `Authorization: Bearer` into an account, and [`Bearer`] for handlers
//! that authenticate inside their own store call.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};

use crate::clock::now_unix;
use crate::error::AppError;
use crate::metrics::Metrics;
use crate::rate_limit::WindowLimiter;
use crate::store::{AccountId, AnyStore, NewSession, SessionAt, Store};

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
impl<S: Send + Sync> FromRequestParts<S> for Bearer
where
    Authenticator: FromRef<S>,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let token = bearer_token(parts).ok_or(AppError::Unauthorized(
            "Sign in first: no bearer token was sent.",
        ))?;
        let token_hash = hash_token(token);
        Authenticator::from_ref(state)
            .token_requests
            .check(&[token_hash])
            .map_err(|retry_after_secs| AppError::TooManyTokenRequests { retry_after_secs })?;
        Ok(Self { token_hash })
    }
}

impl Bearer {
    /// Counts this request against its token's budget; call once the token proved valid.
    pub fn count(&self, auth: &Authenticator) {
        auth.token_requests.record(&[self.token_hash]);
    }

    /// The session this request presents, checked for expiry now.
    pub fn session_now(&self) -> SessionAt {
        SessionAt {
            token_hash: self.token_hash,
            now_unix: now_unix(),
        }
    }

    /// Checks the token against the store (one store call): the caller, or 401.
    pub async fn authenticate(self, auth: &Authenticator) -> Result<Caller, AppError> {
        let token_hash = self.token_hash;
        let account = auth
            .metrics
            .checked(auth.store.session_account(self.session_now()).await)?
            .ok_or(AppError::Unauthorized(INVALID_SESSION))?;
        self.count(auth);
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

impl<S: Send + Sync> FromRequestParts<S> for Caller
where
    Authenticator: FromRef<S>,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        Bearer::from_request_parts(parts, state)
            .await?
            .authenticate(&Authenticator::from_ref(state))
            .await
    }
}

/// The slice of the server's state that authenticating a request takes: the store, the
/// per-token request budget, and the metrics that count the store's failures.
#[derive(Clone, Debug)]
pub struct Authenticator {
    /// Where sessions are looked up.
    pub store: Arc<AnyStore>,
    /// Requests per session token.
    pub token_requests: Arc<WindowLimiter<[u8; 32]>>,
    /// Counts the store's failures.
    pub metrics: Arc<Metrics>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_and_stored_hashed() {
        let (token, session) = new_session(std::time::Duration::from_secs(10)).expect("token");
        assert_eq!(token.len(), 64);
        assert_eq!(session.token_hash, hash_token(&token));
        assert_eq!(session.expires_unix - session.created_unix, 10);
    }
}
