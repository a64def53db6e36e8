//! Requests under the cross-tab lock: one at a time per account, the answer stored before the
//! lock is released, and a write or photo already sent by another tab (or the service worker)
//! answered from the store.

use outpost_core::strategy::Source;
use outpost_core::sync::{Input, RequestId, SentWrite};

/// What one request of the sync machine asks the server.
pub(super) enum Exchange {
    /// `GET /api/profile`.
    Get,
    /// `PUT /api/profile` of this write.
    Put(SentWrite),
    /// `PUT /api/photos/{sha256}` of this photo.
    Upload(String),
}

use super::UserProfileRepository;
use super::driver::Job;
use crate::data::services::{ApiClient, Database};
use crate::data::sync::lock::{lock_name, with_lock};

impl<A: ApiClient + 'static, D: Database + 'static> UserProfileRepository<A, D> {
    /// Sends one request under the cross-tab lock and stores its answer before releasing it.
    pub(super) fn spawn_request(&self, request: RequestId, what: Exchange) {
        if self.inner.closed.get() {
            return;
        }
        let repo = self.clone();
        let name = lock_name(self.account());
        wasm_bindgen_futures::spawn_local(async move {
            let locked = repo.clone();
            with_lock(&name, move || async move {
                let answer = locked.exchange(request, what).await;
                locked.run(Job::Input(answer)).await;
            })
            .await;
        });
    }

    pub(super) async fn exchange(&self, request: RequestId, what: Exchange) -> Input {
        let Some(token) = self.inner.session.token() else {
            return Input::Unauthorized { request };
        };
        match what {
            Exchange::Upload(sha256) => {
                // The service worker may have uploaded it while we waited for the lock (it
                // notes in the record the photos the server said it holds): the same bytes
                // are not sent twice.
                if let Ok(Some(stored)) = self.inner.db.load_profile(self.account()).await
                    && stored.photos_on_server.contains(&sha256)
                {
                    return Input::PhotoStored { request };
                }
                match self.upload(&token, &sha256).await {
                    Ok(()) => Input::PhotoStored { request },
                    Err(failure) => failure.into_input(request),
                }
            }
            Exchange::Put(write) => {
                // Another tab (or the service worker) may have sent this very mutation while
                // we waited for the lock: its stored outcome answers it without a request.
                // Anything else goes to the server, whose idempotency key makes a repeat
                // harmless; a 412 made up here could hide an applied write of ours.
                if let Ok(Some(stored)) = self.inner.db.load_profile(self.account()).await
                    && let Some(profile) = stored.answer_to(&write.mutation)
                {
                    return Input::PutAccepted {
                        request,
                        profile: profile.clone(),
                    };
                }
                self.inner.puts_sent.set(self.inner.puts_sent.get() + 1);
                match self.inner.api.put_profile(&token, &write).await {
                    Ok(profile) => {
                        self.inner.source.set(Source::Remote);
                        Input::PutAccepted { request, profile }
                    }
                    Err(error) => self.failure(&token, error).into_input(request),
                }
            }
            Exchange::Get => match self.inner.api.get_profile(&token).await {
                Ok(profile) => {
                    self.inner.source.set(Source::Remote);
                    Input::GetAnswered { request, profile }
                }
                Err(error) => self.failure(&token, error).into_input(request),
            },
        }
    }
}
