//! `POST /api/sessions` (sign in) and `DELETE /api/sessions/current` (sign out).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use outpost_core::validate;
use outpost_core::wire::{Credentials, TokenResponse};

use crate::auth::{self, Caller};
use crate::client_addr::{ClientAddr, limit_key};
use crate::device_cookie;
use crate::error::{ApiJson, AppError};
use crate::schemas::{CredentialsDoc, ErrorBodyDoc, TokenResponseDoc};
use crate::state::AppState;
use crate::store::Store;

/// Signs in: a new session token for correct credentials. Failed attempts are limited per
/// username and per client address.
#[utoipa::path(post, path = "/api/sessions", tag = "sessions",
    request_body = CredentialsDoc,
    responses(
        (status = 200, description = "Signed in; a session token", body = TokenResponseDoc),
        (status = 401, description = "Wrong username or password", body = ErrorBodyDoc),
        (status = 422, description = "A field breaks a rule", body = ErrorBodyDoc),
        (status = 429, description = "Too many failed sign-ins; see Retry-After", body = ErrorBodyDoc,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn sign_in(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    ApiJson(creds): ApiJson<Credentials>,
) -> Result<impl IntoResponse, AppError> {
    validate::credentials(&creds)?;
    let user_key = format!("u:{}", creds.username);
    let addr_key = addr.map(|addr| format!("a:{}", limit_key(addr)));
    let too_many = |retry_after_secs| AppError::TooManyRequests { retry_after_secs };
    // An attempt is counted, for its address and its username, before its password is
    // checked: concurrent guesses cannot all pass a limit that none of them had counted yet
    // (with the hash slots queued, hundreds of guesses from one address would fit in one
    // window, each on another username). Only a wrong password keeps the counts: a right one
    // is taken back from the address (and clears the username's count), and so is one that
    // ended otherwise (a server error, a request dropped while it waited for a hash slot):
    // the counts stay ones of failures. (Right sign-ins in flight at once from one address
    // count until they end: more than the allowance at the same moment waits, with 429.)
    if let Some(addr_key) = &addr_key {
        state.limiter().admit(addr_key).await.map_err(too_many)?;
    }
    // Each count is given to the attempt as soon as it is made, before the next wait (with
    // PostgreSQL the counts are database calls): a request dropped there gives it back.
    let mut attempt = Attempt {
        state: state.clone(),
        address: addr_key,
        username: None,
    };
    // When refused, no password was tried: the attempt, dropped, takes the address's back.
    state.limiter().admit(&user_key).await.map_err(too_many)?;
    attempt.username = Some(user_key.clone());

    let username = creds.username.clone();
    let found = state.checked(state.store().credentials(&username).await)?;
    let password = creds.password;
    let blocking_state = state.clone();
    let account = state
        .password_hashes()
        .run(move || match found {
            Some((account, hash)) => {
                crate::password::verify_password(&hash, &password).then_some(account)
            }
            None => {
                // Spend the same time as for a wrong password: no username probing by timing.
                if let Some(dummy) = blocking_state.dummy_hash() {
                    let _ = crate::password::verify_password(dummy, &password);
                }
                None
            }
        })
        .await?;

    let Some(account) = account else {
        attempt.failed();
        // Not the username: a password typed into its box would land in the logs.
        tracing::info!("failed sign-in");
        return Err(AppError::Unauthorized("Wrong username or password."));
    };
    state.limiter().clear(&user_key).await;
    attempt.succeeded();
    let (token, session) = auth::new_session(state.config().token_ttl)?;
    state.checked(state.store().create_session(account, session).await)?;
    Ok((device_cookie::set(), ApiJson(TokenResponse { token })))
}

/// The counts one sign-in attempt added, taken back when it is dropped unless it turned out a
/// wrong password ([`Attempt::failed`]): whichever way the request ends, a dropped future too.
struct Attempt {
    state: AppState,
    address: Option<String>,
    username: Option<String>,
}

impl Attempt {
    /// A wrong password: the counts stay.
    fn failed(mut self) {
        self.address = None;
        self.username = None;
    }

    /// A right password: the username's count was cleared whole, the address's is taken back.
    fn succeeded(mut self) {
        self.username = None;
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        let keys: Vec<String> = self
            .address
            .take()
            .into_iter()
            .chain(self.username.take())
            .collect();
        if keys.is_empty() {
            return;
        }
        let state = self.state.clone();
        // Drop cannot wait for the shared counter; the runtime is there while requests run.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                for key in &keys {
                    state.limiter().forgive(key).await;
                }
            });
        }
    }
}

/// Signs out: revokes the caller's token.
#[utoipa::path(delete, path = "/api/sessions/current", tag = "sessions",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Signed out",
            headers(("Set-Cookie" = String, description = "Removes `outpost_device`"))),
    ))]
pub async fn sign_out(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<impl IntoResponse, AppError> {
    let hash = caller.token_hash;
    state.checked(state.store().delete_session(&hash).await)?;
    Ok((StatusCode::NO_CONTENT, device_cookie::clear()))
}
