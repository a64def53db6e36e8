//! Profile photos on this device. A photo chosen here waits in memory until the save that
//! names it commits it: its bytes are stored in the same transaction as that record
//! ([`Database::replace_profile_with`]), so the device never holds a record naming a photo it
//! does not have. The core decides when a photo is uploaded (before the write that names it);
//! this performs the upload under the cross-tab lock, and gives the page the bytes of the
//! photo the record names, fetched from the server (and kept) when another device chose it.

use outpost_core::merge::Field;
use outpost_core::patch::{ProfilePatch, RecordView};
use outpost_core::sync::LocalRecord;
use outpost_core::validate::PHOTO_PATH_PREFIX;

use super::UserProfileRepository;
use super::failure::Failure;
use crate::data::services::{ApiClient, Database, DbError, Photo};

impl<A: ApiClient + 'static, D: Database + 'static> UserProfileRepository<A, D> {
    /// Takes `photo` (chosen here) for the next save, and returns that save: the profile's
    /// photo becomes it, over `shown`, what the page showed when the person chose it. Saved
    /// like any change ([`Self::save`]); the commit that first names it stores its bytes. If
    /// that save fails, [`Self::forget_photo`].
    pub fn choose_photo(&self, photo: Photo, shown: &RecordView) -> ProfilePatch {
        let patch = Self::photo_patch(format!("{PHOTO_PATH_PREFIX}{}", photo.sha256), shown);
        self.inner.new_photos.borrow_mut().push(photo);
        patch
    }

    /// The save of "no photo", over `shown`.
    pub fn remove_photo(shown: &RecordView) -> ProfilePatch {
        Self::photo_patch(String::new(), shown)
    }

    fn photo_patch(photo_url: String, shown: &RecordView) -> ProfilePatch {
        ProfilePatch::typed_over(Field::PhotoUrl, photo_url, shown)
    }

    /// A photo chosen here whose save failed: not kept (the person chooses again if they want
    /// it).
    pub fn forget_photo(&self, sha256: &str) {
        self.inner
            .new_photos
            .borrow_mut()
            .retain(|p| p.sha256 != sha256);
    }

    /// The photo chosen in this tab that a commit of `record` must store with it: one a value
    /// of it that may still be written names ([`LocalRecord::named_photos`]).
    pub(super) fn photo_to_commit(&self, record: &LocalRecord) -> Option<Photo> {
        let photos = self.inner.new_photos.borrow();
        record
            .named_photos()
            .find_map(|sha| photos.iter().find(|p| p.sha256 == sha).cloned())
    }

    /// `photo` is on the device now (committed with a record).
    pub(super) fn photo_committed(&self, photo: &Photo) {
        self.inner
            .new_photos
            .borrow_mut()
            .retain(|p| p.sha256 != photo.sha256);
    }

    /// The bytes of a photo of this account this tab can send: chosen here, or on the
    /// device.
    async fn photo_here(&self, sha256: &str) -> Result<Option<Vec<u8>>, DbError> {
        let chosen = self
            .inner
            .new_photos
            .borrow()
            .iter()
            .find(|p| p.sha256 == sha256)
            .map(|p| p.bytes.clone());
        match chosen {
            Some(bytes) => Ok(Some(bytes)),
            None => self.inner.db.photo(self.account(), sha256).await,
        }
    }

    /// `PUT /api/photos/{sha256}` with the bytes this tab can send, with `token`.
    pub(super) async fn upload(&self, token: &str, sha256: &str) -> Result<(), Failure> {
        let bytes = match self.photo_here(sha256).await {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Err(Failure::PhotoNotHere),
            Err(error) => {
                leptos::logging::error!("reading a photo on this device failed: {error}");
                return Err(Failure::PhotoUnreadable(error));
            }
        };
        self.inner
            .api
            .put_photo(token, sha256, &bytes)
            .await
            .map_err(|e| self.failure(token, e))
    }

    /// The bytes of photo `sha256` of this account, for the page: chosen here, on the device,
    /// or fetched from the server and kept on the device (another device chose it). `None`
    /// when none of them has it now (offline, say): the page shows no picture meanwhile.
    pub async fn photo_bytes(&self, sha256: &str) -> Option<Vec<u8>> {
        // A store that fails to read is asked of the server instead.
        if let Ok(Some(bytes)) = self.photo_here(sha256).await {
            return Some(bytes);
        }
        let token = self.inner.session.token()?;
        let bytes = self.inner.api.get_photo(&token, sha256).await.ok()?;
        // Signed out while it came: nothing of the account may stay on the device.
        if self.inner.closed.get() {
            return None;
        }
        let photo = Photo {
            sha256: sha256.to_owned(),
            bytes,
        };
        // Kept for offline use; a failure to keep it only means fetching it again. Not kept:
        // the account's record is gone from the device (signed out in another tab).
        match self.inner.db.keep_photo(self.account(), &photo).await {
            Ok(false) => None,
            Ok(true) | Err(_) => Some(photo.bytes),
        }
    }
}
