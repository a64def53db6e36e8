//! JSON bodies of the HTTP API (see `docs/architecture.md`, "Contracts").
//!
//! The server serialises exactly these types and the app deserialises them, so a renamed field
//! is a compile error on both sides rather than a silent sync failure.

use serde::{Deserialize, Serialize};

use crate::merge::Field;

/// Body of `POST /api/accounts` and `POST /api/sessions`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// Account name: 3-32 of `[a-z0-9_.-]` (see [`crate::validate::username`]).
    pub username: String,
    /// Password: 8-128 characters (see [`crate::validate::password`]).
    pub password: String,
}

/// Answer to a successful sign-up or sign-in: the bearer token for later requests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    /// Opaque random token, sent back as `Authorization: Bearer <token>`.
    pub token: String,
}

/// The editable fields of a profile: what a person types, and the body of `PUT /api/profile`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProfileFields {
    /// Display name, 1-100 characters after trimming.
    pub name: String,
    /// Empty, an absolute http(s) URL of the person's photo, or the path of a photo uploaded
    /// to the server (`/api/photos/{sha256}`, see [`crate::validate::uploaded_photo`]).
    pub photo_url: String,
}

impl ProfileFields {
    /// The fields of a name and a photo URL.
    pub fn new(name: &str, photo_url: &str) -> Self {
        Self {
            name: name.to_owned(),
            photo_url: photo_url.to_owned(),
        }
    }
}

/// The server's copy of a profile: the answer of `GET /api/profile` and of an accepted PUT.
///
/// `version` starts at 1 and grows by one with every accepted write; it is the `ETag`, and
/// the `If-Match` a client sends to prove it saw the latest state before changing it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerProfile {
    /// Display name.
    pub name: String,
    /// Photo URL, possibly empty.
    pub photo_url: String,
    /// Monotonic version of this profile on the server.
    pub version: u64,
    /// When the server accepted this version, RFC 3339 in UTC.
    pub updated_at: String,
    /// The `Idempotency-Key` of the write that produced this version (`None` for the first
    /// version and for writes sent without a key). A client compares it with the keys of its
    /// own writes, so it recognises its own write even when the answer to it was lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mutation_id: Option<String>,
    /// Per field, the version whose write last changed its value. A field can be changed and
    /// changed back ("Ann", "Bo", "Ann") between two versions a device saw: its value alone
    /// says "unchanged", and a save over it would undo a choice the person never saw. `None`
    /// from a server older than these versions (the client then judges by values).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_versions: Option<FieldVersions>,
}

impl ServerProfile {
    /// The first version of a profile, every field set by it.
    pub fn first(fields: &ProfileFields, updated_at: String) -> Self {
        Self {
            name: fields.name.clone(),
            photo_url: fields.photo_url.clone(),
            version: 1,
            updated_at,
            mutation_id: None,
            field_versions: Some(FieldVersions::all(1)),
        }
    }

    /// The version after this one that a write of `fields` produces: the one rule by which
    /// the server (both stores) and the model's server number versions and their fields.
    pub fn next(
        &self,
        fields: &ProfileFields,
        updated_at: String,
        mutation_id: Option<String>,
    ) -> Self {
        let version = self.version + 1;
        let mut field_versions = self
            .field_versions
            .unwrap_or_else(|| FieldVersions::all(self.version));
        let old = self.fields();
        for field in Field::ALL {
            if field.get(fields) != field.get(&old) {
                field_versions.set(field, version);
            }
        }
        Self {
            name: fields.name.clone(),
            photo_url: fields.photo_url.clone(),
            version,
            updated_at,
            mutation_id,
            field_versions: Some(field_versions),
        }
    }

    /// The editable fields of this server state, for comparing with local edits.
    pub fn fields(&self) -> ProfileFields {
        ProfileFields {
            name: self.name.clone(),
            photo_url: self.photo_url.clone(),
        }
    }

    /// Whether `field` was changed by a version after `version` (changed back to its old
    /// value too); `None` when this server state does not say.
    pub fn changed_after(&self, field: Field, version: u64) -> Option<bool> {
        self.field_versions.map(|v| v.get(field) > version)
    }
}

/// Per field of a profile, a version (see [`ServerProfile::field_versions`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FieldVersions {
    /// The version of the display name.
    pub name: u64,
    /// The version of the photo URL.
    pub photo_url: u64,
}

impl FieldVersions {
    /// Every field at `version`.
    pub fn all(version: u64) -> Self {
        Self {
            name: version,
            photo_url: version,
        }
    }

    /// The version of `field`.
    pub fn get(&self, field: Field) -> u64 {
        match field {
            Field::Name => self.name,
            Field::PhotoUrl => self.photo_url,
        }
    }

    /// Sets the version of `field`.
    pub fn set(&mut self, field: Field, version: u64) {
        match field {
            Field::Name => self.name = version,
            Field::PhotoUrl => self.photo_url = version,
        }
    }
}

/// The JSON error body every 4xx/5xx answer carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable machine-readable code (see [`error_code`]).
    pub error: String,
    /// Human-readable explanation, safe to show to a person.
    pub message: String,
    /// The invalid field, for `422 invalid_field`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The server's current profile, for `412 stale_version`, so the client can merge at once
    /// without another round trip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<ServerProfile>,
}

/// The data of one `profile` event on `GET /api/events`: the profile changed to `version`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileChanged {
    /// The new version on the server.
    pub version: u64,
}

/// The request header that names a write's mutation id (the IETF httpapi draft's name). A
/// repeat of a key the server already applied answers that write's outcome instead of 412.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// The cookie the server sets when a session starts and clears at sign-out: "this browser
/// was signed in". It holds no secret. Safari deletes everything a page's scripts stored
/// (IndexedDB, caches, the service worker) after seven days without a visit but keeps the
/// cookies a server set, so an app that finds this cookie and no stored session knows the
/// browser cleared its data, and says so.
pub const DEVICE_COOKIE: &str = "outpost_device";

/// The `event:` name of profile-change events on the event stream.
pub const PROFILE_EVENT: &str = "profile";

/// The stable `error` codes of [`ErrorBody`], shared so the client can match on them.
pub mod error_code {
    /// 400: the body is not valid JSON for the expected type.
    pub const BAD_REQUEST: &str = "bad_request";
    /// 401: missing, unknown, revoked or expired token, or wrong password.
    pub const UNAUTHORIZED: &str = "unauthorized";
    /// 404: no such route.
    pub const NOT_FOUND: &str = "not_found";
    /// 405: the route exists but not with this method.
    pub const METHOD_NOT_ALLOWED: &str = "method_not_allowed";
    /// 408: the request took longer than the server's request timeout to arrive and be
    /// handled.
    pub const REQUEST_TIMEOUT: &str = "request_timeout";
    /// 409: the username is taken.
    pub const USERNAME_TAKEN: &str = "username_taken";
    /// 412: `If-Match` names an older version; `current` holds the latest.
    pub const STALE_VERSION: &str = "stale_version";
    /// 409: the `Idempotency-Key` is not in the history any more and the version its write
    /// would have produced was pruned: whether it was applied is unknown. `current` holds the
    /// latest; the client re-reads and merges, and never takes it for another device's change.
    pub const HISTORY_PRUNED: &str = "history_pruned";
    /// 413: the body is over the size limit (a photo's own limit for a photo upload).
    pub const PAYLOAD_TOO_LARGE: &str = "payload_too_large";
    /// 415: the body is not JSON (or, for a photo upload, not a JPEG, PNG or WebP image).
    pub const UNSUPPORTED_MEDIA_TYPE: &str = "unsupported_media_type";
    /// 422: a field breaks a rule; `field` names it.
    pub const INVALID_FIELD: &str = "invalid_field";
    /// 422: an `Idempotency-Key` already applied to a write of other values.
    pub const IDEMPOTENCY_KEY_REUSED: &str = "idempotency_key_reused";
    /// 422: the bytes of an uploaded photo do not have the SHA-256 its path names.
    pub const PHOTO_HASH_MISMATCH: &str = "photo_hash_mismatch";
    /// 422: the account holds the most photos allowed; one more is refused.
    pub const PHOTO_LIMIT: &str = "photo_limit";
    /// 422: a profile write names a photo (`/api/photos/{sha256}`) the account has not
    /// uploaded; nothing is written. Upload it first, then send the write again.
    pub const PHOTO_MISSING: &str = "photo_missing";
    /// 428: a write without `If-Match`.
    pub const PRECONDITION_REQUIRED: &str = "precondition_required";
    /// 429: a limit was reached (failed sign-ins, accounts created from one address,
    /// connections of one address, event streams of one account); see `Retry-After`.
    pub const TOO_MANY_REQUESTS: &str = "too_many_requests";
    /// 503: the server is shedding load; see `Retry-After`.
    pub const OVERLOADED: &str = "overloaded";
    /// 503: the server cannot reach its database (`GET /readyz`).
    pub const NOT_READY: &str = "not_ready";
    /// 500: a fault on the server (never expected; logged there).
    pub const INTERNAL: &str = "internal";

    /// Every code with the HTTP status it is answered with: the one table the server answers
    /// by and its tests check against.
    pub const STATUSES: [(&str, u16); 20] = [
        (BAD_REQUEST, 400),
        (UNAUTHORIZED, 401),
        (NOT_FOUND, 404),
        (METHOD_NOT_ALLOWED, 405),
        (REQUEST_TIMEOUT, 408),
        (USERNAME_TAKEN, 409),
        (STALE_VERSION, 412),
        (HISTORY_PRUNED, 409),
        (PAYLOAD_TOO_LARGE, 413),
        (UNSUPPORTED_MEDIA_TYPE, 415),
        (INVALID_FIELD, 422),
        (IDEMPOTENCY_KEY_REUSED, 422),
        (PHOTO_HASH_MISMATCH, 422),
        (PHOTO_LIMIT, 422),
        (PHOTO_MISSING, 422),
        (PRECONDITION_REQUIRED, 428),
        (TOO_MANY_REQUESTS, 429),
        (OVERLOADED, 503),
        (NOT_READY, 503),
        (INTERNAL, 500),
    ];

    /// The HTTP status of `code` (500 for a code not in [`STATUSES`]).
    pub fn status(code: &str) -> u16 {
        STATUSES
            .iter()
            .find(|(c, _)| *c == code)
            .map_or(500, |(_, status)| *status)
    }
}

/// Formats a version as the quoted entity tag used in `ETag` and `If-Match`.
pub fn etag(version: u64) -> String {
    format!("\"{version}\"")
}

/// Parses an entity tag such as `"7"` (or `W/"7"`) back into a version.
pub fn parse_etag(value: &str) -> Option<u64> {
    let value = value.trim();
    let value = value.strip_prefix("W/").unwrap_or(value);
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etag_round_trips() {
        assert_eq!(etag(42), "\"42\"");
        assert_eq!(parse_etag(&etag(42)), Some(42));
        assert_eq!(parse_etag("W/\"3\""), Some(3));
        assert_eq!(parse_etag("3"), None);
        assert_eq!(parse_etag("\"x\""), None);
    }

    #[test]
    fn error_body_omits_empty_extras() {
        let body = ErrorBody {
            error: error_code::NOT_FOUND.into(),
            message: "no such route".into(),
            field: None,
            current: None,
        };
        let json = serde_json::to_string(&body).expect("serialises");
        assert_eq!(json, r#"{"error":"not_found","message":"no such route"}"#);
    }

    #[test]
    fn a_field_changed_and_changed_back_has_a_newer_version() {
        let v1 = ServerProfile::first(&ProfileFields::new("Ann", ""), "t1".into());
        let v2 = v1.next(&ProfileFields::new("Bo", ""), "t2".into(), None);
        let v3 = v2.next(&ProfileFields::new("Ann", "https://p/1"), "t3".into(), None);
        assert_eq!(v3.fields(), ProfileFields::new("Ann", "https://p/1"));
        assert_eq!(
            v3.field_versions,
            Some(FieldVersions {
                name: 3,
                photo_url: 3
            })
        );
        assert_eq!(v3.changed_after(Field::Name, 1), Some(true));
        // A write that leaves a field as it was does not move its version.
        let v4 = v3.next(&ProfileFields::new("Cy", "https://p/1"), "t4".into(), None);
        assert_eq!(v4.changed_after(Field::PhotoUrl, 3), Some(false));
        assert_eq!(v4.changed_after(Field::Name, 3), Some(true));
        // A profile stored before field versions: every field counts as changed at its
        // version, so a device that saw an older one is never told "unchanged" wrongly.
        let old = ServerProfile {
            field_versions: None,
            ..v4
        };
        assert_eq!(old.changed_after(Field::Name, 3), None);
        assert_eq!(
            old.next(&old.fields(), "t5".into(), None).field_versions,
            Some(FieldVersions::all(4))
        );
    }
}
