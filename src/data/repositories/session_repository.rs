//! `SessionRepository`: who is signed in on this device. The token is kept in IndexedDB so the
//! app opens offline with the last account; signing out removes that account's data from the
//! device so the next person cannot read it.

use outpost_core::validate;
use outpost_core::wire::Credentials;

use super::session::{Session, SessionEvent, tell_tabs_signed_out};
use crate::data::services::{ApiClient, ApiError, Database, DbError, StoredSession, device_cookie};

/// The meta key remembering the answer of `navigator.storage.persist()`.
pub const PERSIST_KEY: &str = "storage-persisted";

/// Why signing in or up failed (`ui::core::words::session` says it to people).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// A field breaks a rule; nothing was sent.
    #[error("{0}")]
    Invalid(#[from] validate::FieldError),
    /// Wrong username or password.
    #[error("wrong username or password")]
    WrongCredentials,
    /// The username is taken.
    #[error("the username is taken")]
    Taken,
    /// No connection: signing in needs the server once.
    #[error("the server could not be reached")]
    Offline,
    /// Too many attempts or an overloaded server.
    #[error("the server asked to wait")]
    TryLater,
    /// The device store failed.
    #[error("device store: {0}")]
    Storage(#[from] DbError),
    /// The server failed (a 5xx other than 503).
    #[error("the server failed (HTTP {0})")]
    ServerFailed(u16),
    /// The account was signed out (or another signed in) in another tab while this tab signed
    /// in again: its session is over, and the new token was given back.
    #[error("signed out in another tab")]
    SignedOutElsewhere,
    /// The server refused the request; its message, written for people.
    #[error("refused: {0}")]
    Refused(String),
    /// The answer broke the contract (a bug on one side).
    #[error("unexpected answer: {0}")]
    Unexpected(String),
}

/// What a failed sign-in or sign-up means. Unlike the profile's requests (whose reading is in
/// `user_profile_repository/failure.rs`), a 401 here is a wrong password, not an ended session.
impl From<ApiError> for SessionError {
    fn from(error: ApiError) -> Self {
        match error {
            ApiError::Unauthorized(_) => SessionError::WrongCredentials,
            ApiError::Taken(_) => SessionError::Taken,
            ApiError::Unreachable | ApiError::Timeout => SessionError::Offline,
            ApiError::Server { status: 429, .. } | ApiError::Server { status: 503, .. } => {
                SessionError::TryLater
            }
            ApiError::Server { status, .. } => SessionError::ServerFailed(status),
            ApiError::Invalid { message, .. } | ApiError::PhotoMissing(message) => {
                SessionError::Refused(message)
            }
            ApiError::Protocol(message) | ApiError::OutcomeUnknown(message) => {
                SessionError::Unexpected(message)
            }
            ApiError::Stale(_) | ApiError::Forgotten(_) => {
                SessionError::Unexpected("a sign-in was answered as a profile write".into())
            }
        }
    }
}

/// Sign-up, sign-in and sign-out, on the server and on this device.
#[derive(Clone)]
pub struct SessionRepository<A, D> {
    api: A,
    db: D,
}

/// How a sign-out ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignOut {
    /// The account's data is gone from this device and the session is forgotten.
    Done,
    /// Nothing was deleted: the device holds unsynced changes the person was not warned
    /// about (saved meanwhile in another tab).
    NewerChanges,
}

impl<A: ApiClient, D: Database> SessionRepository<A, D> {
    /// A session repository over these services.
    pub fn new(api: A, db: D) -> Self {
        Self { api, db }
    }

    /// The tab's handle on the `stored` session, shared by everything that uses its token. A
    /// 401 it hears of is remembered on the device, so the next start asks to sign in.
    pub fn open(&self, stored: &StoredSession) -> Session
    where
        A: Clone + 'static,
        D: Clone + 'static,
    {
        let session = Session::open(stored);
        let sessions = self.clone();
        let account = stored.account.clone();
        session.subscribe(move |event| {
            if let SessionEvent::Expired(failed) = event {
                let (sessions, account, failed) =
                    (sessions.clone(), account.clone(), failed.clone());
                wasm_bindgen_futures::spawn_local(async move {
                    if let Err(error) = sessions.mark_expired(&account, &failed).await {
                        leptos::logging::error!("remembering the ended session failed: {error}");
                    }
                });
            }
        });
        session
    }

    /// [`Self::open`], for a tab starting on `stored`, read from the device before this tab
    /// listened to the others: a sign-out, another account's sign-in or a new token of the
    /// account in another tab since then was not heard, so the device's session is read
    /// again once listening. `None`: the device is no longer signed in to that account, or
    /// another tab said it signed out while this read (a tab signing in as someone else says
    /// so before it removes the session) -- this tab would have shown the profile and written
    /// it back for whoever signed in next.
    pub async fn resume(&self, stored: &StoredSession) -> Result<Option<Session>, DbError>
    where
        A: Clone + 'static,
        D: Clone + 'static,
    {
        let session = self.open(stored);
        match self.db.load_session().await? {
            _ if session.has_ended() => Ok(None),
            Some(now) if now.account == stored.account => {
                if let Some(token) = now.token.filter(|t| Some(t) != stored.token.as_ref()) {
                    session.follow(token);
                }
                Ok(Some(session))
            }
            _ => Ok(None),
        }
    }

    /// The session stored on this device, if any.
    pub async fn current(&self) -> Result<Option<StoredSession>, DbError> {
        self.db.load_session().await
    }

    /// The account of the session on this device, if it is not `username` and holds changes
    /// the server has not confirmed: signing in as `username` keeps them on this device (they
    /// are sent when that account signs in again), and the sign-in page says so first.
    pub async fn unsynced_other_account(&self, username: &str) -> Option<String> {
        let previous = self.db.load_session().await.ok().flatten()?;
        if previous.account == username.trim() {
            return None;
        }
        let record = self
            .db
            .load_profile(&previous.account)
            .await
            .ok()
            .flatten()?;
        record.has_unsynced_changes().then_some(previous.account)
    }

    /// The server's token for `username` (a new account with `create`), checked first with
    /// the server's rules, and the credentials as sent.
    async fn token_for(
        &self,
        username: &str,
        password: &str,
        create: bool,
    ) -> Result<(Credentials, String), SessionError> {
        let credentials = Credentials {
            username: username.trim().to_owned(),
            password: password.to_owned(),
        };
        validate::credentials(&credentials)?;
        let token = if create {
            self.api.create_account(&credentials).await?
        } else {
            self.api.sign_in(&credentials).await?
        };
        Ok((credentials, token))
    }

    /// Creates an account (or signs in, with `create == false`) and stores the session.
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
        create: bool,
    ) -> Result<StoredSession, SessionError> {
        let (credentials, token) = self.token_for(username, password, create).await?;
        let previous = self.db.load_session().await?;
        if let Some(previous) = previous.filter(|p| p.account != credentials.username) {
            // Tabs still open as that account stop, so they write nothing back.
            tell_tabs_signed_out(&previous.account);
            // Another account's leftovers: a new person must not be able to read them, but
            // changes the server has not confirmed are never deleted (decided inside the
            // delete's transaction, so a tab's late save is kept too); they wait for that
            // account's next sign-in on this device.
            self.db
                .forget_account(&previous.account, None, false)
                .await?;
        }
        let session = StoredSession {
            account: credentials.username,
            token: Some(token),
        };
        self.db.save_session(&session).await?;
        Ok(session)
    }

    /// Signs in again to `session`'s account after its token ended; the profile repository,
    /// the event stream and the account's other tabs take the new token.
    pub async fn sign_in_again(
        &self,
        session: &Session,
        password: &str,
    ) -> Result<(), SessionError> {
        let (credentials, token) = self.token_for(session.account(), password, false).await?;
        // Signed out, or in as someone else, in another tab while the server answered: the
        // device must not be signed in to this account again behind that tab's back.
        match self.db.load_session().await? {
            Some(stored) if stored.account == credentials.username => {
                self.db
                    .save_session(&StoredSession {
                        account: credentials.username,
                        token: Some(token.clone()),
                    })
                    .await?;
                session.renew(token);
                Ok(())
            }
            _ => {
                let _ = self.api.sign_out(&token).await;
                Err(SessionError::SignedOutElsewhere)
            }
        }
    }

    /// Marks the stored session as needing a new sign-in (after a 401 to `failed_token`),
    /// keeping the account so its unsynced changes stay and are sent after signing in again.
    /// Only that token is forgotten: another tab may already have stored a newer one, and no
    /// session is recreated after a sign-out.
    pub async fn mark_expired(&self, account: &str, failed_token: &str) -> Result<(), DbError> {
        match self.db.load_session().await? {
            Some(stored)
                if stored.account == account && stored.token.as_deref() == Some(failed_token) =>
            {
                self.db
                    .save_session(&StoredSession {
                        account: account.to_owned(),
                        token: None,
                    })
                    .await
            }
            _ => Ok(()),
        }
    }

    /// Signs out: removes the account's data from this device, ends `session` in every tab,
    /// then revokes the token on the server if reachable (the device is clean at once, even
    /// when the server is slow). `confirmed` is the revision whose unsynced changes the person
    /// chose to discard after the warning. If the device holds other unsynced changes
    /// (another tab's save the warning did not cover), nothing is deleted and
    /// `SignOut::NewerChanges` says so.
    pub async fn sign_out(
        &self,
        session: &Session,
        confirmed: Option<u64>,
    ) -> Result<SignOut, DbError> {
        // The record, the account's photos and the session go in one transaction: a crash
        // part way cannot leave the device signed in to an account it was signed out of.
        if !self
            .db
            .forget_account(session.account(), confirmed, true)
            .await?
        {
            return Ok(SignOut::NewerChanges);
        }
        device_cookie::forget();
        let token = session.token();
        // Every tab's repository stops; a commit already on its way finds the record gone
        // and stops too, so nothing writes the account's data back.
        session.end();
        if let Some(token) = token {
            // Offline sign-out still forgets the token here; it expires on the server.
            let _ = self.api.sign_out(&token).await;
        }
        Ok(SignOut::Done)
    }

    /// The browser's answer to [`Self::request_persistent_storage`], if it was asked.
    pub async fn persistent_storage(&self) -> Option<bool> {
        let answer = self.db.load_meta(PERSIST_KEY).await.ok().flatten()?;
        Some(answer == "true")
    }

    /// Asks the browser to keep this origin's storage under pressure (once per device, after
    /// the person saved something: Firefox asks them), and remembers the answer.
    pub async fn request_persistent_storage(&self) -> Option<bool> {
        if let Some(answer) = self.persistent_storage().await {
            return Some(answer);
        }
        let storage = web_sys::window()?.navigator().storage();
        let promise = storage.persist().ok()?;
        let granted = wasm_bindgen_futures::JsFuture::from(promise)
            .await
            .ok()?
            .as_bool()
            .unwrap_or(false);
        let _ = self
            .db
            .save_meta(PERSIST_KEY, if granted { "true" } else { "false" })
            .await;
        Some(granted)
    }
}
