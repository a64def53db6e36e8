//! The HTTP handlers, one file per resource, and the one declaration of the API's routes
//! ([`api`]): the router, the OpenAPI document ([`crate::schemas::document`]) and the
//! metrics' route labels all come from it.

pub mod accounts;
pub mod events;
pub mod health;
pub mod metrics;
pub mod photos;
pub mod profile;
pub mod sessions;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

/// Every documented route, declared once with its handler and its `#[utoipa::path]`
/// description: the short API requests, which share the request limits (and the refusals
/// that come with them, [`crate::schemas::shared_refusals`]; a photo upload's body has a size
/// limit of its own, see [`photos`]), then the long-lived and operational ones.
pub fn api() -> (OpenApiRouter<AppState>, OpenApiRouter<AppState>) {
    let limited = OpenApiRouter::new()
        .routes(routes!(accounts::create_account))
        .routes(routes!(sessions::sign_in))
        .routes(routes!(sessions::sign_out))
        .routes(routes!(profile::get_profile, profile::put_profile))
        .routes(routes!(photos::get_photo, photos::put_photo));
    let open = OpenApiRouter::new()
        .routes(routes!(events::events))
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(metrics::metrics));
    (limited, open)
}
