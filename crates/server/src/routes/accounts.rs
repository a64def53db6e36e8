//! `POST /api/accounts`: sign up.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use outpost_core::validate;
use outpost_core::wire::{Credentials, TokenResponse};

use crate::auth;
use crate::client_addr::{ClientAddr, limit_key};
use crate::device_cookie;
use crate::error::{ApiJson, AppError};
use crate::schemas::{CredentialsDoc, ErrorBodyDoc, TokenResponseDoc};
use crate::state::AppState;
use crate::store::{NewAccount, Store};

/// Creates an account (with its first profile: name = username, version 1) and signs it in.
#[utoipa::path(post, path = "/api/accounts", tag = "accounts",
    request_body = CredentialsDoc,
    responses(
        (status = 201, description = "Account created; a session token", body = TokenResponseDoc),
        (status = 409, description = "Username taken", body = ErrorBodyDoc),
        (status = 422, description = "A field breaks a rule", body = ErrorBodyDoc),
        (status = 429, description = "Too many accounts created from this address; see Retry-After",
            body = ErrorBodyDoc,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn create_account(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    ApiJson(creds): ApiJson<Credentials>,
) -> Result<impl IntoResponse, AppError> {
    validate::credentials(&creds)?;
    // Every valid attempt costs an argon2 hash, so attempts are counted, not only successes.
    if let Some(addr) = addr {
        state
            .signups()
            .admit(&limit_key(addr))
            .await
            .map_err(|retry_after_secs| AppError::TooManySignups { retry_after_secs })?;
    }
    let cost = state.config().argon2;
    let Credentials { username, password } = creds;
    let hash = state
        .password_hashes()
        .run(move || crate::password::hash_password(cost, &password))
        .await??;
    let (token, session) = auth::new_session(state.config().token_ttl)?;
    let account = NewAccount {
        username: username.clone(),
        password_hash: hash,
        session,
        now: crate::clock::now_rfc3339(),
    };
    state.checked(state.store().create_account(account).await)?;
    tracing::info!(%username, "account created");
    Ok((
        StatusCode::CREATED,
        device_cookie::set(),
        ApiJson(TokenResponse { token }),
    ))
}
