//! The reading strategies: local fallback, stream, local only.

use outpost_core::strategy::{self, ReadError, ReadStrategy, RemoteFailure};
use outpost_core::sync::{Input, LocalRecord, RequestId};

use super::driver::Job;
use super::{UserProfileRepository, now_ms};
use crate::data::services::{ApiClient, Database};

impl<A: ApiClient + 'static, D: Database + 'static> UserProfileRepository<A, D> {
    /// Reads the profile with the chosen [`ReadStrategy`]; the result is also published to
    /// subscribers. `Stream` publishes the device's copy first and the server's when it
    /// arrives; this call returns after the first.
    pub async fn load(&self) -> Result<LocalRecord, ReadError> {
        let strategy = self.inner.settings.borrow().read_strategy;
        let local = self.inner.sync.borrow().machine().record().cloned();
        match strategy {
            ReadStrategy::LocalOnly => strategy::local_only_read(local.as_ref()).map(|r| r.record),
            ReadStrategy::Stream => {
                self.run(Job::Input(Input::SyncRequested)).await;
                match local {
                    Some(record) => Ok(record),
                    None => self.fetch_and_adopt().await,
                }
            }
            ReadStrategy::Fallback => self.fetch_and_adopt().await,
        }
    }

    /// Fallback read: the server's copy, stored and returned; on failure the device's.
    pub(super) async fn fetch_and_adopt(&self) -> Result<LocalRecord, ReadError> {
        let Some(token) = self.inner.session.token() else {
            let local = self.inner.sync.borrow().machine().record().cloned();
            return strategy::local_only_read(local.as_ref()).map(|r| r.record);
        };
        match self.inner.api.get_profile(&token).await {
            Ok(profile) => {
                self.run(Job::Input(Input::RemoteRead(profile.clone())))
                    .await;
                // What the strategy shows: the server's copy unless local changes wait (the
                // machine may not have adopted it yet if its own request is in flight).
                let local = self.inner.sync.borrow().machine().record().cloned();
                strategy::fallback_read(Ok(profile), local.as_ref(), now_ms()).map(|r| r.record)
            }
            Err(error) => {
                let failure = self.failure(&token, error).into_remote();
                if failure == RemoteFailure::Unauthorized {
                    self.enqueue(
                        Job::Input(Input::Unauthorized {
                            request: RequestId(0),
                        }),
                        None,
                    );
                }
                let local = self.inner.sync.borrow().machine().record().cloned();
                strategy::fallback_read(Err(failure), local.as_ref(), now_ms()).map(|r| r.record)
            }
        }
    }
}
