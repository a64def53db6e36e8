//! The input rules, shared by the server (which enforces them) and the UI (which explains them
//! before anything is sent). Each check returns a [`FieldError`] that names the field and says
//! in words what is wrong, so the same sentence reaches the person either way.

use crate::wire::{Credentials, ProfileFields};

/// Largest request body the server accepts, in bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Shortest username.
pub const USERNAME_MIN: usize = 3;
/// Longest username.
pub const USERNAME_MAX: usize = 32;
/// Shortest password, in characters.
pub const PASSWORD_MIN: usize = 8;
/// Longest password, in characters (argon2 cost is bounded by it too).
pub const PASSWORD_MAX: usize = 128;
/// Longest display name, in characters after trimming.
pub const NAME_MAX: usize = 100;
/// Longest photo URL, in bytes.
pub const PHOTO_URL_MAX: usize = 2048;
/// Longest `Idempotency-Key` (a mutation id), in bytes; the app sends 32 hex digits.
pub const MUTATION_ID_MAX: usize = 64;
/// Where the server keeps a photo uploaded to it: this prefix and the SHA-256 of the photo's
/// bytes as 64 lowercase hex digits. A profile's `photo_url` may name one.
pub const PHOTO_PATH_PREFIX: &str = "/api/photos/";

/// A rule a field broke: which field, and a sentence for people.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FieldError {
    /// The field's wire name (`username`, `password`, `name`, `photo_url`).
    pub field: &'static str,
    /// What is wrong, in plain words.
    pub message: String,
}

impl FieldError {
    fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

/// Checks a username: 3-32 characters of `a-z`, `0-9`, `_`, `.` and `-`.
pub fn username(value: &str) -> Result<(), FieldError> {
    let len = value.chars().count();
    if !(USERNAME_MIN..=USERNAME_MAX).contains(&len) {
        return Err(FieldError::new(
            "username",
            format!("Username must be {USERNAME_MIN} to {USERNAME_MAX} characters long."),
        ));
    }
    if !value
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-'))
    {
        return Err(FieldError::new(
            "username",
            "Username may use only lowercase letters, digits, '_', '.' and '-'.",
        ));
    }
    Ok(())
}

/// Checks a password: 8-128 characters.
pub fn password(value: &str) -> Result<(), FieldError> {
    let len = value.chars().count();
    if !(PASSWORD_MIN..=PASSWORD_MAX).contains(&len) {
        return Err(FieldError::new(
            "password",
            format!("Password must be {PASSWORD_MIN} to {PASSWORD_MAX} characters long."),
        ));
    }
    Ok(())
}

/// Checks both fields of a sign-up or sign-in.
pub fn credentials(creds: &Credentials) -> Result<(), FieldError> {
    username(&creds.username)?;
    password(&creds.password)
}

/// Checks a display name: 1-100 characters after trimming, no control characters.
pub fn name(value: &str) -> Result<(), FieldError> {
    let trimmed = value.trim();
    let len = trimmed.chars().count();
    if len == 0 {
        return Err(FieldError::new("name", "Name must not be empty."));
    }
    if len > NAME_MAX {
        return Err(FieldError::new(
            "name",
            format!("Name must be at most {NAME_MAX} characters long."),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(FieldError::new(
            "name",
            "Name must not contain control characters.",
        ));
    }
    Ok(())
}

/// Whether `value` is a SHA-256 as the photo paths name it: exactly 64 lowercase hex digits
/// (one spelling per photo, so equal photos have equal URLs).
pub fn is_sha256_hex(value: &str) -> bool {
    value.len() == 64
        && value
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The SHA-256 (64 lowercase hex digits) of the uploaded photo that `photo_url` names, if it
/// names one (`/api/photos/{sha256}`): the photo the server must hold before it accepts a
/// profile naming it.
pub fn uploaded_photo(photo_url: &str) -> Option<&str> {
    photo_url
        .strip_prefix(PHOTO_PATH_PREFIX)
        .filter(|sha| is_sha256_hex(sha))
}

/// Checks a photo URL: empty, an absolute `http://` or `https://` URL of at most 2048 bytes
/// with a host and no spaces or control characters, or the path of a photo uploaded to the
/// server (`/api/photos/` and 64 lowercase hex digits, see [`uploaded_photo`]).
pub fn photo_url(value: &str) -> Result<(), FieldError> {
    if value.is_empty() || uploaded_photo(value).is_some() {
        return Ok(());
    }
    if value.starts_with(PHOTO_PATH_PREFIX) {
        return Err(FieldError::new(
            "photo_url",
            "A photo on this server is named /api/photos/ and the 64 lowercase hex digits of \
             its SHA-256.",
        ));
    }
    if value.len() > PHOTO_URL_MAX {
        return Err(FieldError::new(
            "photo_url",
            format!("Photo URL must be at most {PHOTO_URL_MAX} characters long."),
        ));
    }
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"));
    let Some(rest) = rest else {
        return Err(FieldError::new(
            "photo_url",
            "Photo URL must start with http:// or https://.",
        ));
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit('@').next().unwrap_or_default();
    if host.is_empty() || host.starts_with(':') {
        return Err(FieldError::new("photo_url", "Photo URL must name a host."));
    }
    if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(FieldError::new(
            "photo_url",
            "Photo URL must not contain spaces or control characters.",
        ));
    }
    Ok(())
}

/// Checks a mutation id (`Idempotency-Key`): 1-64 of `A-Z`, `a-z`, `0-9`, `_` and `-`.
pub fn mutation_id(value: &str) -> Result<(), FieldError> {
    if value.is_empty()
        || value.len() > MUTATION_ID_MAX
        || !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
    {
        return Err(FieldError::new(
            "idempotency_key",
            format!("Idempotency-Key must be 1 to {MUTATION_ID_MAX} letters, digits, '_' or '-'."),
        ));
    }
    Ok(())
}

/// Checks both editable profile fields, name first.
pub fn profile(fields: &ProfileFields) -> Result<(), FieldError> {
    name(&fields.name)?;
    photo_url(&fields.photo_url)
}

/// The form of a profile that is stored and sent: the name trimmed, the URL as typed.
///
/// Normalising in one place keeps "changed" comparisons in the merge honest: `"Ann "` and
/// `"Ann"` are the same name.
pub fn normalize(fields: &ProfileFields) -> ProfileFields {
    ProfileFields {
        name: fields.name.trim().to_owned(),
        photo_url: fields.photo_url.trim().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert!(username("ann").is_ok());
        assert!(username("a.b-c_9").is_ok());
        assert!(username("ab").is_err());
        assert!(username(&"a".repeat(33)).is_err());
        assert!(username("Ann").is_err());
        assert!(username("an n").is_err());
        assert!(username("ännn").is_err());
    }

    #[test]
    fn passwords_count_characters_not_bytes() {
        assert!(password("12345678").is_ok());
        assert!(password("1234567").is_err());
        assert!(password(&"é".repeat(128)).is_ok());
        assert!(password(&"é".repeat(129)).is_err());
    }

    #[test]
    fn names() {
        assert!(name("Ann").is_ok());
        assert!(name("   ").is_err());
        assert!(name(&"x".repeat(100)).is_ok());
        assert!(name(&format!("  {}  ", "x".repeat(100))).is_ok());
        assert!(name(&"x".repeat(101)).is_err());
        let err = name("a\u{7}b").expect_err("control char");
        assert_eq!(err.field, "name");
    }

    #[test]
    fn photo_urls() {
        assert!(photo_url("").is_ok());
        assert!(photo_url("https://example.com/a.png").is_ok());
        assert!(photo_url("http://localhost:8080/x").is_ok());
        assert!(photo_url("ftp://example.com/a.png").is_err());
        assert!(photo_url("https://").is_err());
        assert!(photo_url("https:///path").is_err());
        assert!(photo_url("javascript:alert(1)").is_err());
        assert!(photo_url("https://exa mple.com").is_err());
        let long = format!("https://example.com/{}", "a".repeat(2048));
        assert_eq!(photo_url(&long).expect_err("too long").field, "photo_url");
    }

    #[test]
    fn uploaded_photos_are_named_by_their_lowercase_sha256() {
        let sha = "0123456789abcdef".repeat(4);
        let url = format!("{PHOTO_PATH_PREFIX}{sha}");
        assert!(photo_url(&url).is_ok());
        assert_eq!(uploaded_photo(&url), Some(sha.as_str()));
        assert_eq!(uploaded_photo("https://example.com/a.png"), None);
        assert_eq!(uploaded_photo(""), None);
        for bad in [
            format!("{PHOTO_PATH_PREFIX}{}", sha.to_uppercase()),
            format!("{PHOTO_PATH_PREFIX}{}", &sha[1..]),
            format!("{PHOTO_PATH_PREFIX}{sha}0"),
            format!("{PHOTO_PATH_PREFIX}{sha}/x"),
            format!("{PHOTO_PATH_PREFIX}{}g", &sha[1..]),
            PHOTO_PATH_PREFIX.to_owned(),
        ] {
            assert_eq!(uploaded_photo(&bad), None, "{bad}");
            assert_eq!(photo_url(&bad).expect_err(&bad).field, "photo_url");
        }
        // Other relative paths stay refused.
        assert!(photo_url("/api/profile").is_err());
        assert!(photo_url("api/photos/x").is_err());
    }

    #[test]
    fn mutation_ids() {
        assert!(mutation_id("0123456789abcdef0123456789abcdef").is_ok());
        assert!(mutation_id("a_B-9").is_ok());
        assert!(mutation_id("").is_err());
        assert!(mutation_id(&"a".repeat(65)).is_err());
        assert!(mutation_id("a b").is_err());
        assert!(mutation_id("ä").is_err());
    }

    #[test]
    fn normalize_trims() {
        let f = normalize(&ProfileFields {
            name: "  Ann ".into(),
            photo_url: " https://x.y ".into(),
        });
        assert_eq!(f.name, "Ann");
        assert_eq!(f.photo_url, "https://x.y");
    }
}
