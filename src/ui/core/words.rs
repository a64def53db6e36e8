//! What people read when something goes wrong: every data-layer error in words, in one place.
//! The error types themselves (`SaveError`, `SessionError`, `DbError`, `ReadError`) say what
//! happened for logs and tests; the sentences, and their tone, belong to the UI.

use outpost_core::strategy::ReadError;

use crate::data::repositories::{SaveError, SessionError};
use crate::data::services::DbError;

/// A failure of the device store.
pub fn storage(error: &DbError) -> String {
    match error {
        DbError::QuotaExceeded => "This device is out of storage space, so the change was not saved here. Free some space and try again.".to_owned(),
        DbError::Unavailable(detail) => {
            format!("This browser does not allow saving data on this device: {detail}")
        }
        DbError::Outdated => "Outpost was updated in another tab. Reload this page to continue; saved changes are kept.".to_owned(),
        DbError::ConnectionLost => "The browser lost its connection to the data on this device, and again after reopening it, so the change was not saved here. Reload the page; what was saved before is kept.".to_owned(),
        DbError::Failed(detail) => format!("Saving on this device failed: {detail}"),
    }
}

/// Why a save did not happen.
pub fn save(error: &SaveError) -> String {
    match error {
        SaveError::Invalid(rule) => rule.to_string(),
        SaveError::Storage(error) => storage(error),
        SaveError::NeedsConnection => "Saving needs a connection in online-only mode, and the server did not answer. Press Save again when online: a change the server already got is not saved twice.".to_owned(),
        SaveError::SignInRequired => "Your session has ended. Sign in again to save.".to_owned(),
        SaveError::SignedOut => "You signed out of this account. Sign in to save changes.".to_owned(),
        SaveError::ChangedElsewhere => {
            "The profile was changed on another device. Review it and save again.".to_owned()
        }
        SaveError::Rejected(reason) => refused(reason),
        SaveError::PhotoNotHere => PHOTO_NOT_HERE.to_owned(),
        SaveError::PhotoUnreadable(_) => format!("{PHOTO_UNREADABLE} Nothing was sent; try again."),
        SaveError::NotAPhoto(reason) => format!("That file cannot be used as a photo: {reason}"),
        SaveError::NotLoaded => "Your profile has not arrived on this device yet, so nothing was changed. Try again once it shows.".to_owned(),
        SaveError::EarlierChangesPending => "Changes saved on this device earlier are not on the server yet, and go first. Press Save again once the status says everything is synced (a conflict to settle, a refusal or a sign-in it shows comes first; or choose \"Save on this device first, then sync\" in Settings). What you typed stays here.".to_owned(),
    }
}

/// The photo a change names is gone from this device before it was uploaded: only the person
/// can mend that.
pub const PHOTO_NOT_HERE: &str = "The new photo is no longer stored on this device, so it cannot be uploaded. Choose it again, or remove it.";

/// The device store failed to read the photo to upload; it is tried again.
pub const PHOTO_UNREADABLE: &str = "The new photo could not be read from this device's storage.";

/// The server refused a change for good; `reason` is its message.
pub fn refused(reason: &str) -> String {
    format!("The server refused the change: {reason}")
}

/// Why signing in or up failed.
pub fn session(error: &SessionError) -> String {
    match error {
        SessionError::Invalid(rule) => rule.to_string(),
        SessionError::WrongCredentials => "The username or password is wrong.".to_owned(),
        SessionError::Taken => "That username is taken. Choose another, or sign in.".to_owned(),
        SessionError::Offline => {
            "Signing in needs a connection. Check the network and try again.".to_owned()
        }
        SessionError::TryLater => "The server asked to wait before trying again.".to_owned(),
        SessionError::SignedOutElsewhere => {
            "This account was signed out in another tab, so it was not signed in again here."
                .to_owned()
        }
        SessionError::Storage(error) => storage(error),
        SessionError::ServerFailed(status) => {
            format!("The server failed (HTTP {status}). Try again in a moment.")
        }
        // The server's own message, written for people.
        SessionError::Refused(message) => message.clone(),
        SessionError::Unexpected(detail) => {
            format!("The server gave an unexpected answer: {detail}")
        }
    }
}

/// Why the profile cannot be shown.
pub fn read(error: &ReadError) -> String {
    match error {
        ReadError::NotAvailableOffline => {
            "Your profile is not available offline yet. Connect once to load it.".to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sentence_ends_like_one() {
        let sentences = [
            storage(&DbError::QuotaExceeded),
            storage(&DbError::Outdated),
            storage(&DbError::ConnectionLost),
            save(&SaveError::NeedsConnection),
            save(&SaveError::SignInRequired),
            save(&SaveError::SignedOut),
            save(&SaveError::ChangedElsewhere),
            save(&SaveError::PhotoNotHere),
            save(&SaveError::PhotoUnreadable(DbError::Failed("disk".into()))),
            session(&SessionError::WrongCredentials),
            session(&SessionError::Taken),
            session(&SessionError::Offline),
            session(&SessionError::TryLater),
            read(&ReadError::NotAvailableOffline),
        ];
        for sentence in sentences {
            assert!(sentence.ends_with('.'), "{sentence}");
            assert!(sentence.starts_with(char::is_uppercase), "{sentence}");
        }
    }
}
