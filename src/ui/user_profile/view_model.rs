//! `UserProfileViewModel`: what the profile page binds to. It exposes the seed's `load()` and
//! `save(name, photo_url)`, the sync status, and the conflict and session actions, and turns
//! every outcome into words for the person. It talks only to the repositories.

use std::rc::Rc;

use leptos::prelude::*;
use outpost_core::patch::{ProfilePatch, RecordView};
use outpost_core::strategy::ReadError;
use outpost_core::sync::{LocalRecord, Resolution};

use crate::data::repositories::{
    ProfileState, SaveError, SaveOutcome, SessionError, SessionRepository, SignOut,
    UserProfileRepository,
};
use crate::data::services::{
    ApiClient, ApiClientService, Database, DatabaseService, DbError, Photo, Settings,
    StoredSession, photo_worker, service_worker,
};
use crate::data::sync::triggers::SyncLoop;
use crate::dependencies::Dependencies;
use crate::ui::core::{first_paint, words};

/// A message about the last action, shown under the form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// A whole sentence for the person, ready to show.
    pub text: String,
    /// Whether it reports a problem (shown as an alert).
    pub is_error: bool,
}

/// The photo chosen in this tab, as the page shows it: its prepared bytes as an object URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChosenPhoto {
    /// The SHA-256 the profile names it by once its save is stored.
    pub sha256: String,
    /// An object URL of the prepared JPEG (revoked when another photo is chosen).
    pub url: String,
    /// Its save is under way (not stored yet, and not failed).
    pub saving: bool,
}

/// The profile page's state and actions. `Copy`, so views capture it freely: the
/// browser-only parts (repository, triggers) live in a thread-local arena slot. Over the real
/// services by default; its tests run it over the fakes.
pub struct UserProfileViewModel<A: 'static = ApiClientService, D: 'static = DatabaseService> {
    parts: StoredValue<Parts<A, D>, LocalStorage>,
    /// The latest state from the repository.
    pub state: RwSignal<ProfileState>,
    /// The outcome of the last save or action.
    pub notice: RwSignal<Option<Notice>>,
    /// Whether a save is under way.
    pub saving: RwSignal<bool>,
    /// A photo chosen (or dropped), or "Remove photo" pressed, while a save was under way:
    /// done when it ends. The last choice is the one saved, and the photo worker prepares one
    /// photo at a time.
    next_photo: StoredValue<Option<PhotoChoice>, LocalStorage>,
    /// Whether the browser agreed to keep this device's storage under pressure (`None`: not
    /// asked yet; it is asked after the first save).
    pub storage_kept: RwSignal<Option<bool>>,
    /// The photo chosen in this tab: shown as soon as it is prepared, while its save is
    /// stored (a failed save takes it away and says why), and then whenever the profile
    /// names it, with no read of the device store.
    pub chosen_photo: RwSignal<Option<ChosenPhoto>>,
}

/// What the person did to the photo while a save was under way.
enum PhotoChoice {
    /// Chose (or dropped) this file.
    Choose(web_sys::Blob),
    /// Pressed "Remove photo".
    Remove,
}

impl<A, D> Clone for UserProfileViewModel<A, D> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<A, D> Copy for UserProfileViewModel<A, D> {}

#[derive(Clone)]
struct Parts<A: 'static, D: 'static> {
    repo: UserProfileRepository<A, D>,
    sessions: SessionRepository<A, D>,
    sync: Rc<SyncLoop<A, D>>,
}

impl<A: ApiClient + Clone + 'static, D: Database + Clone + 'static> UserProfileViewModel<A, D> {
    /// Opens the profile of the signed-in `session` and starts syncing it; `None` when the
    /// device signed out of that account meanwhile (in another tab).
    pub async fn open(
        dependencies: &Dependencies<A, D>,
        session: StoredSession,
        settings: Settings,
    ) -> Result<Option<Self>, DbError> {
        let Some((repo, sync)) = dependencies.open_profile(&session, settings).await? else {
            return Ok(None);
        };
        let state = RwSignal::new(repo.state());
        let notice = RwSignal::new(None::<Notice>);
        repo.subscribe(move |s| {
            state.set(s.clone());
            // "Not available offline yet" stops being true when the profile arrives.
            if s.record.is_some()
                && notice.with_untracked(|n| {
                    n.as_ref()
                        .is_some_and(|n| n.text == words::read(&ReadError::NotAvailableOffline))
                })
            {
                notice.set(None);
            }
        });
        sync.restart();
        // Read after the profile opened, not before it: only Settings shows it.
        let storage_kept = RwSignal::new(None);
        let sessions = dependencies.sessions.clone();
        leptos::task::spawn_local(async move {
            let answer = sessions.persistent_storage().await;
            // A save may have asked and set it meanwhile; that answer is the newer one.
            if storage_kept.get_untracked().is_none() {
                storage_kept.set(answer);
            }
        });
        Ok(Some(Self {
            parts: StoredValue::new_local(Parts {
                repo,
                sessions: dependencies.sessions.clone(),
                sync,
            }),
            state,
            notice,
            saving: RwSignal::new(false),
            next_photo: StoredValue::new_local(None),
            storage_kept,
            chosen_photo: RwSignal::new(None),
        }))
    }

    fn repo(&self) -> UserProfileRepository<A, D> {
        self.parts.with_value(|p| p.repo.clone())
    }

    /// The account shown.
    pub fn account(&self) -> String {
        self.repo().account().to_owned()
    }

    /// Reads the profile with the chosen strategy (the seed's `load()`).
    pub fn load(&self) {
        let repo = self.repo();
        let notice = self.notice;
        leptos::task::spawn_local(async move {
            if let Err(error) = repo.load().await {
                notice.set(Some(Notice {
                    text: words::read(&error),
                    is_error: true,
                }));
            }
        });
    }

    /// Saves the changed fields with the chosen strategy (the seed's `save()`); the notice says
    /// whether they are on this device or on the server.
    pub async fn save(&self, patch: ProfilePatch) -> Result<SaveOutcome, SaveError> {
        if !self.loaded() {
            return self.saved(Err(SaveError::NotLoaded));
        }
        self.saving.set(true);
        let result = self.repo().save(patch).await;
        self.saving_done();
        self.saved(result)
    }

    /// A save ended: a photo chosen or removed meanwhile goes next.
    fn saving_done(&self) {
        self.saving.set(false);
        match self.next_photo.try_update_value(Option::take).flatten() {
            Some(PhotoChoice::Choose(file)) => self.choose_photo(file),
            Some(PhotoChoice::Remove) => self.remove_photo(),
            None => {}
        }
    }

    /// The person chose a photo (from the picker, the camera or a drop): prepared off the
    /// main thread, shown and saved like any change; a file that is no photo is refused in
    /// words and changes nothing.
    pub fn choose_photo(&self, file: web_sys::Blob) {
        if !self.loaded() {
            let _ = self.saved(Err(SaveError::NotLoaded));
            return;
        }
        if self.saving.get_untracked() {
            self.next_photo.set_value(Some(PhotoChoice::Choose(file)));
            return;
        }
        // Set before the task starts: a second photo dropped in the same turn waits for it.
        self.saving.set(true);
        let vm = *self;
        leptos::task::spawn_local(async move {
            match photo_worker::prepare(&file).await {
                Ok(photo) => {
                    let sha256 = photo.sha256.clone();
                    vm.show_chosen(&photo);
                    let patch = vm.repo().choose_photo(photo, &vm.shown());
                    let saved = vm.save(patch).await.is_ok();
                    if !saved {
                        vm.repo().forget_photo(&sha256);
                    }
                    vm.chosen_photo.update(|chosen| {
                        if chosen.as_ref().is_some_and(|c| c.sha256 == sha256) {
                            match chosen.as_mut() {
                                Some(c) if saved => c.saving = false,
                                _ => forget_chosen(chosen),
                            }
                        }
                    });
                }
                Err(reason) => {
                    vm.saving_done();
                    let _ = vm.saved(Err(SaveError::NotAPhoto(reason)));
                }
            }
        });
    }

    /// Shows `photo` at once, in place of the photo chosen before (if any).
    fn show_chosen(&self, photo: &Photo) {
        let url = super::profile_photo::object_url(&photo.bytes);
        self.chosen_photo.update(|chosen| {
            forget_chosen(chosen);
            *chosen = url.map(|url| ChosenPhoto {
                sha256: photo.sha256.clone(),
                url,
                saving: true,
            });
        });
    }

    /// "Remove photo": the profile has no photo from now on (once a save under way ends).
    pub fn remove_photo(&self) {
        if !self.loaded() {
            let _ = self.saved(Err(SaveError::NotLoaded));
            return;
        }
        if self.saving.get_untracked() {
            self.next_photo.set_value(Some(PhotoChoice::Remove));
            return;
        }
        // Set before the task starts, as for a chosen photo.
        self.saving.set(true);
        let vm = *self;
        let patch = UserProfileRepository::<A, D>::remove_photo(&self.shown());
        leptos::task::spawn_local(async move {
            let _ = vm.save(patch).await;
        });
    }

    /// The bytes of this account's photo `sha256` (see
    /// [`UserProfileRepository::photo_bytes`]).
    pub async fn photo_bytes(&self, sha256: &str) -> Option<Vec<u8>> {
        self.repo().photo_bytes(sha256).await
    }

    /// Whether the profile is on this device: a change before it arrived would be made over
    /// values nobody has seen (an empty name), and the form is read-only until then.
    fn loaded(&self) -> bool {
        self.state.with_untracked(|s| s.record.is_some())
    }

    /// The values the page shows now.
    fn shown(&self) -> RecordView {
        self.state
            .with_untracked(|s| s.record.as_ref().map(LocalRecord::view))
            .unwrap_or_default()
    }

    /// Tells the person how a save ended, and what follows a stored one.
    fn saved(&self, result: Result<SaveOutcome, SaveError>) -> Result<SaveOutcome, SaveError> {
        if result == Ok(SaveOutcome::SavedOnDevice) {
            // If every tab closes before the sync, the service worker sends it.
            leptos::task::spawn_local(async {
                service_worker::request_background_sync().await;
            });
        }
        if result.is_ok() && self.storage_kept.get_untracked().is_none() {
            // The person has something to keep now. Firefox may ask them; nothing waits.
            let (sessions, kept) = (
                self.parts.with_value(|p| p.sessions.clone()),
                self.storage_kept,
            );
            leptos::task::spawn_local(async move {
                kept.set(sessions.request_persistent_storage().await);
            });
        }
        self.notice.set(Some(match &result {
            Ok(SaveOutcome::SavedOnDevice) => Notice {
                text: "Saved on this device.".to_owned(),
                is_error: false,
            },
            Ok(SaveOutcome::Synced) => Notice {
                text: "Saved and synced.".to_owned(),
                is_error: false,
            },
            Err(error) => Notice {
                text: words::save(error),
                is_error: true,
            },
        }));
        result
    }

    /// "Sync now".
    pub fn sync_now(&self) {
        self.repo().sync();
    }

    /// The person's answer to the conflict on screen.
    pub fn resolve(&self, choice: Resolution) {
        let Some(seen) = self.state.with_untracked(|s| s.status.conflict.clone()) else {
            return;
        };
        let repo = self.repo();
        leptos::task::spawn_local(async move {
            repo.resolve(choice, seen).await;
            // The choice is a change to send like a save: if every tab closes before it is
            // sent, the service worker sends it.
            service_worker::request_background_sync().await;
        });
    }

    /// If signing out now would delete changes the server has not got: the revision of the
    /// record holding them (what the warning covers).
    pub fn unsynced_revision(&self) -> Option<u64> {
        self.repo().unsynced_revision()
    }

    /// Signs out and forgets this account's data on this device; `confirmed` is the revision
    /// the person chose to discard after the warning. `SignOut::NewerChanges`: another tab
    /// saved something meanwhile, nothing was deleted and this tab goes on (warn again).
    pub async fn sign_out(&self, confirmed: Option<u64>) -> Result<SignOut, DbError> {
        let Parts { repo, sessions, .. } = self.parts.get_value();
        // The start's snapshot goes first: a crash after the device forgot the account must
        // not paint its name for the next person (losing it costs only the first paint).
        first_paint::forget();
        let outcome = sessions.sign_out(repo.session(), confirmed).await;
        if !matches!(outcome, Ok(SignOut::Done)) {
            // Still signed in: the next start paints this account again.
            let shown = self.shown().fields;
            first_paint::remember(repo.account(), &shown.name, &shown.photo_url);
        }
        let outcome = outcome.inspect_err(|error| {
            self.notice.set(Some(Notice {
                text: format!(
                    "Signing out failed, so this account's data is still here. {}",
                    words::storage(error)
                ),
                is_error: true,
            }));
        })?;
        if outcome == SignOut::NewerChanges {
            repo.reload_from_device().await;
            self.notice.set(Some(Notice {
                text: "Another tab saved changes that have not reached the server yet, so nothing was deleted.".to_owned(),
                is_error: true,
            }));
        }
        Ok(outcome)
    }

    /// Signs in again to the same account after the session ended; pending changes are sent.
    pub async fn sign_in_again(&self, password: String) -> Result<(), SessionError> {
        let Parts { repo, sessions, .. } = self.parts.get_value();
        sessions.sign_in_again(repo.session(), &password).await?;
        // What went wrong while the session was over ("Your session has ended...") is over too.
        if self
            .notice
            .with_untracked(|n| n.as_ref().is_some_and(|n| n.is_error))
        {
            self.notice.set(None);
        }
        Ok(())
    }

    /// Applies new settings to the running repository.
    pub fn apply_settings(&self, settings: Settings) {
        let Parts { repo, sync, .. } = self.parts.get_value();
        let restart = repo.settings().sync_interval_secs != settings.sync_interval_secs;
        repo.apply_settings(settings);
        if restart {
            sync.restart();
        }
    }
}

/// Drops the chosen photo's object URL.
fn forget_chosen(chosen: &mut Option<ChosenPhoto>) {
    if let Some(old) = chosen.take() {
        let _ = web_sys::Url::revoke_object_url(&old.url);
    }
}
