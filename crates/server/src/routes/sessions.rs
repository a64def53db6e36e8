//! `POST /api/sessions` (sign in) and `DELETE /api/sessions/current` (sign out).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use outpost_core::validate;
use outpost_core::wire::{Credentials, TokenResponse};

use crate::auth::{self, Caller};
use crate::client_addr::ClientAddr;
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
    let mut keys = vec![user_key.clone()];
    if let Some(addr) = addr {
        keys.push(format!("a:{addr}"));
    }
    state
        .limiter()
        .check(&keys)
        .await
        .map_err(|retry_after_secs| AppError::TooManyRequests { retry_after_secs })?;

    let username = creds.username.clone();
    let found = state.checked(state.store().credentials(&username).await)?;
    let password = creds.password;
    let blocking_state = state.clone();
    let account = tokio::task::spawn_blocking(move || match found {
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
        state.limiter().record(&keys).await;
        tracing::info!(username = %creds.username, "failed sign-in");
        return Err(AppError::Unauthorized("Wrong username or password."));
    };
    state.limiter().clear(&user_key).await;
    let (token, session) = auth::new_session(state.config().token_ttl)?;
    state.checked(state.store().create_session(account, session).await)?;
    Ok((device_cookie::set(), ApiJson(TokenResponse { token })))
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
