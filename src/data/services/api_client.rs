//! `ApiClientService`: the Outpost HTTP API over `fetch` ([`super::fetch`]), with typed errors
//! and a timeout on every request, so a hung connection can never stall the sync loop.

use outpost_core::sync::SentWrite;
use outpost_core::validate::PHOTO_PATH_PREFIX;
use outpost_core::wire::{
    Credentials, ErrorBody, IDEMPOTENCY_KEY, ServerProfile, TokenResponse, error_code, etag,
};
use serde::de::DeserializeOwned;
use web_sys::{AbortController, Response};

use super::fetch::{self, Fetch};

/// How long one request may take before it counts as failed.
pub const REQUEST_TIMEOUT_MS: u32 = 10_000;

/// How long a photo's upload or download may take: the server's own limit for a request, body
/// included (`--request-timeout-secs`, 30 s), not the others' 10 s. In 10 s a photo of 200 KB
/// needs about 160 kbit/s, more than a phone's weak link has (every try was cut off, and the
/// profile write that names the photo waited behind it for good); in 30 s, about 55 kbit/s.
pub const PHOTO_TIMEOUT_MS: u32 = 30_000;

/// Why an API call failed, in the terms the repository decides on.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// No answer: offline, DNS, refused connection, CORS, or the request was aborted.
    #[error("no answer from the server")]
    Unreachable,
    /// No answer within the deadline ([`REQUEST_TIMEOUT_MS`], or [`PHOTO_TIMEOUT_MS`] for a
    /// photo).
    #[error("the server did not answer in time")]
    Timeout,
    /// 401: the session is unknown, revoked or expired, or the password was wrong.
    #[error("{0}")]
    Unauthorized(String),
    /// 409: the username is taken.
    #[error("{0}")]
    Taken(String),
    /// 412: someone else changed the profile first; this is their version.
    #[error("changed elsewhere first")]
    Stale(Box<ServerProfile>),
    /// 409 `history_pruned`: the server forgot the write's key with the version it may have
    /// written (its history was pruned); whether it was applied is unknown. Its current state.
    #[error("the server no longer knows whether this write was applied")]
    Forgotten(Box<ServerProfile>),
    /// 422 `photo_missing`: the write names a photo the server does not hold (not uploaded, or
    /// pruned since); nothing was applied. The server's words.
    #[error("{0}")]
    PhotoMissing(String),
    /// 400/413/415/422: the request broke a rule; `field` names it when known.
    #[error("{message}")]
    Invalid {
        /// The offending field, if the server named one.
        field: Option<String>,
        /// The server's words.
        message: String,
    },
    /// 429/503 or another 5xx: try again later, not before `retry_after_ms` if given.
    #[error("the server is busy or failing (HTTP {status})")]
    Server {
        /// The HTTP status.
        status: u16,
        /// The server's `Retry-After`, in milliseconds.
        retry_after_ms: Option<u64>,
    },
    /// The answer was not what the contract says (a bug on one side).
    #[error("unexpected answer: {0}")]
    Protocol(String),
    /// An answer that is not the server's own word on the request, so it may or may not have
    /// been applied: a 2xx whose body cannot be read (a proxy or a cut connection garbled
    /// it), a 408, a 404 while a deploy rolls, a proxy's 4xx without the JSON error body.
    /// A write stays in doubt and is sent again with the same key.
    #[error("outcome unknown: {0}")]
    OutcomeUnknown(String),
}

/// The API operations the repository needs. `token` is the bearer token of the session.
pub trait ApiClient {
    /// `POST /api/accounts`: creates an account and returns a session token.
    async fn create_account(&self, credentials: &Credentials) -> Result<String, ApiError>;
    /// `POST /api/sessions`: signs in and returns a session token.
    async fn sign_in(&self, credentials: &Credentials) -> Result<String, ApiError>;
    /// `DELETE /api/sessions/current`: revokes the token on the server.
    async fn sign_out(&self, token: &str) -> Result<(), ApiError>;
    /// `GET /api/profile`.
    async fn get_profile(&self, token: &str) -> Result<ServerProfile, ApiError>;
    /// `PUT /api/profile` with `If-Match: "<if_match>"` and `Idempotency-Key: <mutation>`:
    /// a repeat of an applied mutation answers its original outcome.
    async fn put_profile(&self, token: &str, write: &SentWrite) -> Result<ServerProfile, ApiError>;
    /// `PUT /api/photos/{sha256}` with the photo's bytes (a JPEG): `Ok` once the server holds
    /// it (201, or 200 when it had it already).
    async fn put_photo(&self, token: &str, sha256: &str, bytes: &[u8]) -> Result<(), ApiError>;
    /// `GET /api/photos/{sha256}`: the bytes of a photo of this account.
    async fn get_photo(&self, token: &str, sha256: &str) -> Result<Vec<u8>, ApiError>;
}

/// What a request carries.
enum Body {
    None,
    /// JSON text.
    Json(String),
    /// A JPEG photo.
    Jpeg(js_sys::Uint8Array),
}

/// The real client: `fetch` against `base` (empty for the page's own origin).
#[derive(Clone, Debug)]
pub struct ApiClientService {
    base: String,
    timeout_ms: u32,
}

impl ApiClientService {
    /// A client for the server at `base` (e.g. `""` for same origin, or a test server's URL).
    pub fn new(base: impl Into<String>) -> Self {
        Self {
            base: base.into().trim_end_matches('/').to_owned(),
            timeout_ms: REQUEST_TIMEOUT_MS,
        }
    }

    /// The full URL of an API path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends a request, aborting it after the timeout. The abort is what turns a stalled
    /// connection into an error the sync loop can retry.
    async fn send(&self, request: Fetch, body: Body) -> Result<(Response, Deadline), ApiError> {
        self.send_within(request, body, self.timeout_ms).await
    }

    /// [`Self::send`] with a deadline of its own.
    async fn send_within(
        &self,
        request: Fetch,
        body: Body,
        timeout_ms: u32,
    ) -> Result<(Response, Deadline), ApiError> {
        let controller = AbortController::new().map_err(|_| ApiError::Unreachable)?;
        let request = request.signal(Some(&controller.signal()));
        let request = match body {
            Body::Json(json) => request
                .header("Content-Type", "application/json")
                .body(&wasm_bindgen::JsValue::from_str(&json)),
            Body::Jpeg(bytes) => request.header("Content-Type", "image/jpeg").body(&bytes),
            Body::None => request,
        };
        let timed_out = std::rc::Rc::new(std::cell::Cell::new(false));
        let flag = timed_out.clone();
        let timer = gloo_timers::callback::Timeout::new(timeout_ms, move || {
            flag.set(true);
            controller.abort();
        });
        let deadline = Deadline {
            _timer: timer,
            timed_out,
        };
        match request.send().await {
            Ok(response) => Ok((response, deadline)),
            Err(_) => Err(deadline.or(ApiError::Unreachable)),
        }
    }

    fn authorized(request: Fetch, token: &str) -> Fetch {
        request.header("Authorization", &format!("Bearer {token}"))
    }

    /// Posts credentials to `path` (sign-up or sign-in) and returns the session token.
    async fn token_from(&self, path: &str, credentials: &Credentials) -> Result<String, ApiError> {
        let body = Body::Json(to_json(credentials)?);
        let response = self.send(Fetch::new("POST", &self.url(path)), body).await?;
        json_of::<TokenResponse>(response).await.map(|t| t.token)
    }
}

/// Keeps a request's timeout armed until its body has been read: a server that sends the
/// headers and then stalls must not hold the sync (and the cross-tab lock) forever.
struct Deadline {
    _timer: gloo_timers::callback::Timeout,
    timed_out: std::rc::Rc<std::cell::Cell<bool>>,
}

impl Deadline {
    /// `Timeout` if the deadline aborted the request, else `error`.
    fn or(&self, error: ApiError) -> ApiError {
        if self.timed_out.get() {
            ApiError::Timeout
        } else {
            error
        }
    }
}

/// Reads `Retry-After` (seconds) as milliseconds.
pub(super) fn retry_after_ms(response: &Response) -> Option<u64> {
    fetch::header(response, "retry-after")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|s| s.saturating_mul(1000))
}

/// Turns a non-success answer into an [`ApiError`], reading the JSON error body if present.
/// Only the server's own JSON body says what happened to the request; any other 4xx (a
/// proxy's page, a 404 or 408 while a deploy rolls) leaves its outcome unknown.
async fn error_from(response: Response) -> ApiError {
    let status = response.status();
    let retry_after = retry_after_ms(&response);
    let body: Option<ErrorBody> = read_json(&response).await.ok();
    let message = body
        .as_ref()
        .map(|b| b.message.clone())
        .unwrap_or_else(|| format!("HTTP {status}"));
    match (status, body) {
        (401, _) => ApiError::Unauthorized(message),
        (429 | 500..=599, _) => ApiError::Server {
            status,
            retry_after_ms: retry_after,
        },
        (404 | 408, _) | (_, None) => ApiError::OutcomeUnknown(format!("HTTP {status}")),
        (409, Some(body)) if body.error == error_code::HISTORY_PRUNED => match body.current {
            Some(current) => ApiError::Forgotten(Box::new(current)),
            None => ApiError::Protocol("409 history_pruned without the current profile".into()),
        },
        (409, Some(_)) => ApiError::Taken(message),
        (412, Some(body)) => match body.current {
            Some(current) => ApiError::Stale(Box::new(current)),
            None => ApiError::Protocol("412 without the current profile".into()),
        },
        (422, Some(body)) if body.error == error_code::PHOTO_MISSING => {
            ApiError::PhotoMissing(message)
        }
        (400 | 413 | 415 | 422, Some(body)) => ApiError::Invalid {
            field: body.field,
            message,
        },
        (_, Some(_)) => ApiError::Protocol(format!("HTTP {status}: {message}")),
    }
}

async fn json_of<T: DeserializeOwned>(
    (response, deadline): (Response, Deadline),
) -> Result<T, ApiError> {
    let result = if response.ok() {
        read_json(&response)
            .await
            .map_err(|e| deadline.or(ApiError::OutcomeUnknown(format!("unreadable answer: {e}"))))
    } else {
        Err(error_from(response).await)
    };
    drop(deadline);
    result
}

/// Parses a JSON body with the browser's own parser (`JSON.parse`) and [`super::js_value`],
/// so the app ships no JSON parser of its own (first-load bytes; see docs/BENCHMARKS.md P1).
async fn read_json<T: DeserializeOwned>(response: &Response) -> Result<T, ApiError> {
    let text = fetch::text(response)
        .await
        .map_err(|_| ApiError::Protocol("the answer could not be read".to_owned()))?;
    from_json(&text)
}

/// `JSON.parse`, then read into `T`.
pub fn from_json<T: DeserializeOwned>(text: &str) -> Result<T, ApiError> {
    let value = js_sys::JSON::parse(text)
        .map_err(|_| ApiError::Protocol("the answer is not JSON".to_owned()))?;
    super::js_value::from_value(value).map_err(|e| ApiError::Protocol(e.to_string()))
}

/// serde-wasm-bindgen then `JSON.stringify`: the request body.
fn to_json<T: serde::Serialize>(value: &T) -> Result<String, ApiError> {
    let value =
        serde_wasm_bindgen::to_value(value).map_err(|e| ApiError::Protocol(e.to_string()))?;
    js_sys::JSON::stringify(&value)
        .map(String::from)
        .map_err(|_| ApiError::Protocol("the request could not be written as JSON".to_owned()))
}

impl ApiClient for ApiClientService {
    async fn create_account(&self, credentials: &Credentials) -> Result<String, ApiError> {
        self.token_from("/api/accounts", credentials).await
    }

    async fn sign_in(&self, credentials: &Credentials) -> Result<String, ApiError> {
        self.token_from("/api/sessions", credentials).await
    }

    async fn sign_out(&self, token: &str) -> Result<(), ApiError> {
        let builder = Self::authorized(
            Fetch::new("DELETE", &self.url("/api/sessions/current")),
            token,
        );
        let (response, _deadline) = self.send(builder, Body::None).await?;
        if response.ok() || response.status() == 401 {
            Ok(())
        } else {
            Err(error_from(response).await)
        }
    }

    async fn get_profile(&self, token: &str) -> Result<ServerProfile, ApiError> {
        let builder = Self::authorized(Fetch::new("GET", &self.url("/api/profile")), token);
        json_of(self.send(builder, Body::None).await?).await
    }

    async fn put_profile(&self, token: &str, write: &SentWrite) -> Result<ServerProfile, ApiError> {
        let builder = Self::authorized(Fetch::new("PUT", &self.url("/api/profile")), token)
            .header("If-Match", &etag(write.if_match))
            .header(IDEMPOTENCY_KEY, &write.mutation);
        json_of(
            self.send(builder, Body::Json(to_json(&write.fields)?))
                .await?,
        )
        .await
    }

    async fn put_photo(&self, token: &str, sha256: &str, bytes: &[u8]) -> Result<(), ApiError> {
        let url = self.url(&format!("{PHOTO_PATH_PREFIX}{sha256}"));
        let builder = Self::authorized(Fetch::new("PUT", &url), token);
        let body = Body::Jpeg(js_sys::Uint8Array::from(bytes));
        let (response, _deadline) = self.send_within(builder, body, PHOTO_TIMEOUT_MS).await?;
        // Only the server's own answers say it has the photo (as the service worker reads
        // them): a proxy's other 2xx is no word on it.
        match response.status() {
            200 | 201 => Ok(()),
            status if response.ok() => Err(ApiError::OutcomeUnknown(format!("HTTP {status}"))),
            _ => Err(error_from(response).await),
        }
    }

    async fn get_photo(&self, token: &str, sha256: &str) -> Result<Vec<u8>, ApiError> {
        let url = self.url(&format!("{PHOTO_PATH_PREFIX}{sha256}"));
        // The device keeps photos in IndexedDB (removed at sign-out); the HTTP cache would
        // keep another copy for a year.
        let builder = Self::authorized(Fetch::new("GET", &url).no_store(), token);
        let (response, deadline) = self
            .send_within(builder, Body::None, PHOTO_TIMEOUT_MS)
            .await?;
        if !response.ok() {
            return Err(error_from(response).await);
        }
        // A body that stops mid-way is no photo: tried again later.
        let bytes = fetch::bytes(&response)
            .await
            .map_err(|_| deadline.or(ApiError::Unreachable))?;
        // Bytes that are not the photo named (a proxy that recompressed it, a garbled body)
        // would be kept under its name for good, and sent back if the server ever asked for
        // it again (which refuses them: 422): they are no answer.
        match sha256_hex(&bytes).await {
            Some(actual) if actual != sha256 => Err(ApiError::OutcomeUnknown(
                "the photo's bytes do not match its name".to_owned(),
            )),
            _ => Ok(bytes),
        }
    }
}

/// SHA-256 of `bytes` in lowercase hex, by the browser's Web Crypto (`None` where it is not
/// available: outside a secure context).
async fn sha256_hex(bytes: &[u8]) -> Option<String> {
    use js_sys::{Function, Promise, Reflect, Uint8Array};
    use wasm_bindgen::JsCast;
    let crypto = Reflect::get(&js_sys::global(), &"crypto".into()).ok()?;
    let subtle = Reflect::get(&crypto, &"subtle".into()).ok()?;
    let digest = Reflect::get(&subtle, &"digest".into())
        .ok()?
        .dyn_into::<Function>()
        .ok()?;
    let promise = digest
        .call2(&subtle, &"SHA-256".into(), &Uint8Array::from(bytes))
        .ok()?
        .dyn_into::<Promise>()
        .ok()?;
    let hash = wasm_bindgen_futures::JsFuture::from(promise).await.ok()?;
    Some(
        Uint8Array::new(&hash)
            .to_vec()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::rc::Rc;

    use wasm_bindgen_test::wasm_bindgen_test;
    use web_sys::{Headers, ResponseInit};

    use super::*;

    /// An answer as the server, or a proxy or load balancer on the way, might give it.
    fn answer(status: u16, content_type: &str, body: &str, retry_after: Option<&str>) -> Response {
        let headers = Headers::new().expect("headers");
        headers
            .set("content-type", content_type)
            .expect("content-type");
        if let Some(seconds) = retry_after {
            headers.set("retry-after", seconds).expect("retry-after");
        }
        let init = ResponseInit::new();
        init.set_status(status);
        init.set_headers(&headers);
        Response::new_with_opt_str_and_init(Some(body), &init).expect("response")
    }

    const HTML: &str = "<html><body>Bad gateway</body></html>";

    /// Only the server's own JSON word on a request says what became of it: anything else
    /// leaves a write in doubt (sent again with its key), or is retried after the backoff.
    #[wasm_bindgen_test]
    async fn only_the_servers_own_answer_ends_a_writes_doubt() {
        let unknown = |status: u16| ApiError::OutcomeUnknown(format!("HTTP {status}"));
        // A 404 while a deploy rolls, a 408, a proxy's own refusal, a JSON body that is not
        // the server's error: the outcome is unknown.
        for (status, content_type, body) in [
            (404, "text/html", HTML),
            (
                404,
                "application/json",
                r#"{"error":"not_found","message":"No route."}"#,
            ),
            (408, "text/plain", ""),
            (403, "text/html", HTML),
            (400, "application/json", r#"{"status":"bad"}"#),
            (422, "text/html", HTML),
        ] {
            let got = error_from(answer(status, content_type, body, None)).await;
            assert_eq!(got, unknown(status), "{status} {content_type} {body}");
        }
        // A 5xx (a proxy's page or the server's) and a 429: try again later, after the
        // server's `Retry-After` when it gives one.
        assert_eq!(
            error_from(answer(502, "text/html", HTML, None)).await,
            ApiError::Server {
                status: 502,
                retry_after_ms: None
            }
        );
        assert_eq!(
            error_from(answer(
                503,
                "application/json",
                r#"{"error":"overloaded","message":"Busy."}"#,
                Some("3")
            ))
            .await,
            ApiError::Server {
                status: 503,
                retry_after_ms: Some(3_000)
            }
        );
        // The server's own answers say what happened.
        let current = r#"{"name":"Bo","photo_url":"","version":4,"updated_at":"t4"}"#;
        assert!(matches!(
            error_from(answer(
                412,
                "application/json",
                &format!(r#"{{"error":"stale_version","message":"Changed.","current":{current}}}"#),
                None
            ))
            .await,
            ApiError::Stale(profile) if profile.version == 4
        ));
        assert_eq!(
            error_from(answer(
                422,
                "application/json",
                r#"{"error":"invalid_field","message":"Too long.","field":"name"}"#,
                None
            ))
            .await,
            ApiError::Invalid {
                field: Some("name".into()),
                message: "Too long.".into()
            }
        );
        assert!(matches!(
            error_from(answer(401, "text/html", HTML, None)).await,
            ApiError::Unauthorized(_)
        ));
    }

    /// A 2xx whose body is not the profile (a captive portal's page, a body cut short) may
    /// have been applied: its outcome is unknown, not a refusal.
    #[wasm_bindgen_test]
    async fn an_unreadable_success_leaves_the_outcome_unknown() {
        let deadline = || Deadline {
            _timer: gloo_timers::callback::Timeout::new(60_000, || {}),
            timed_out: Rc::new(Cell::new(false)),
        };
        for body in [HTML, r#"{"name":"Bo","photo_url":""#] {
            let got =
                json_of::<ServerProfile>((answer(200, "application/json", body, None), deadline()))
                    .await;
            assert!(
                matches!(got, Err(ApiError::OutcomeUnknown(_))),
                "{body}: {got:?}"
            );
        }
        let read = json_of::<ServerProfile>((
            answer(
                200,
                "application/json",
                r#"{"name":"Bo","photo_url":"","version":4,"updated_at":"t4"}"#,
                None,
            ),
            deadline(),
        ))
        .await;
        assert_eq!(read.map(|p| p.version), Ok(4));
    }
}
