//! The OpenAPI document, generated from the handlers' `#[utoipa::path]` annotations.
//!
//! The wire types live in `outpost-core`, which depends on serde alone, so their schemas are
//! built here with utoipa's builders under the same names; a test checks that every schema
//! lists exactly the fields serde writes, so the two cannot drift.

use std::borrow::Cow;

use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

use crate::routes;

fn string(description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
}

fn version(description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(Some(1))
        .description(Some(description))
}

macro_rules! doc_schema {
    ($(#[$meta:meta])* $doc:ident, $name:literal, $build:expr) => {
        $(#[$meta])*
        #[derive(Debug)]
        pub struct $doc;

        impl PartialSchema for $doc {
            fn schema() -> RefOr<Schema> {
                let object: ObjectBuilder = $build;
                RefOr::T(Schema::Object(object.build()))
            }
        }

        impl ToSchema for $doc {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
        }
    };
}

doc_schema!(
    /// Schema of [`outpost_core::wire::Credentials`].
    CredentialsDoc,
    "Credentials",
    ObjectBuilder::new()
        .description(Some("Sign-up or sign-in"))
        .property("username", string("3-32 of [a-z0-9_.-]").min_length(Some(3)).max_length(Some(32)))
        .property("password", string("8-128 characters"))
        .required("username")
        .required("password")
);

doc_schema!(
    /// Schema of [`outpost_core::wire::TokenResponse`].
    TokenResponseDoc,
    "TokenResponse",
    ObjectBuilder::new()
        .property("token", string("Bearer token for `Authorization: Bearer <token>`"))
        .required("token")
);

doc_schema!(
    /// Schema of [`outpost_core::wire::ProfileFields`].
    ProfileFieldsDoc,
    "ProfileFields",
    ObjectBuilder::new()
        .property("name", string("1-100 characters after trimming, no control characters"))
        .property("photo_url", string("Empty or an absolute http(s) URL, at most 2048 bytes"))
        .required("name")
        .required("photo_url")
);

doc_schema!(
    /// Schema of [`outpost_core::wire::ServerProfile`].
    ServerProfileDoc,
    "ServerProfile",
    ObjectBuilder::new()
        .property("name", string("Display name"))
        .property("photo_url", string("Photo URL, possibly empty"))
        .property("version", version("Grows by one with every accepted write; the ETag"))
        .property(
            "updated_at",
            string("When this version was accepted, RFC 3339 UTC")
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
        )
        .property(
            "mutation_id",
            string(
                "The Idempotency-Key of the write that produced this version; absent for the \
                 first version and for writes sent without a key. A client that lost the \
                 answer to its write recognises the write here"
            )
            .min_length(Some(1))
            .max_length(Some(outpost_core::validate::MUTATION_ID_MAX))
            .pattern(Some("^[A-Za-z0-9_-]+$"))
        )
        .required("name")
        .required("photo_url")
        .required("version")
        .required("updated_at")
);

doc_schema!(
    /// Schema of [`outpost_core::wire::ErrorBody`].
    ErrorBodyDoc,
    "ErrorBody",
    ObjectBuilder::new()
        .property("error", string("Stable machine-readable code"))
        .property("message", string("Explanation for people"))
        .property("field", string("The invalid field (422 `invalid_field` only)"))
        .property("current", Ref::from_schema_name("ServerProfile"))
        .required("error")
        .required("message")
);

doc_schema!(
    /// Schema of [`outpost_core::wire::ProfileChanged`], the data of a `profile` event.
    ProfileChangedDoc,
    "ProfileChanged",
    ObjectBuilder::new()
        .property("version", version("The new version"))
        .required("version")
);

/// Adds the bearer security scheme.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The API's OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(title = "Outpost API", description = "Accounts, sessions and the versioned profile of an offline-first app."),
    paths(
        routes::accounts::create_account,
        routes::sessions::sign_in,
        routes::sessions::sign_out,
        routes::profile::get_profile,
        routes::profile::put_profile,
        routes::events::events,
        routes::health::healthz,
        routes::health::readyz,
        crate::metrics::metrics,
    ),
    components(schemas(
        CredentialsDoc, TokenResponseDoc, ProfileFieldsDoc, ServerProfileDoc, ErrorBodyDoc,
        ProfileChangedDoc
    )),
    modifiers(&BearerScheme)
)]
pub struct ApiDoc;

/// `GET /api/openapi.json`.
pub async fn openapi_json() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use outpost_core::wire::{
        Credentials, ErrorBody, ProfileChanged, ProfileFields, ServerProfile, TokenResponse,
    };
    use serde_json::Value;

    use super::*;

    fn keys(value: &impl serde::Serialize) -> BTreeSet<String> {
        match serde_json::to_value(value).expect("serialises") {
            Value::Object(map) => map.keys().cloned().collect(),
            other => panic!("not an object: {other}"),
        }
    }

    fn schema_keys(doc: &Value, name: &str) -> BTreeSet<String> {
        doc["components"]["schemas"][name]["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("schema {name} missing"))
            .keys()
            .cloned()
            .collect()
    }

    #[test]
    fn schemas_match_the_wire_types() {
        let doc = serde_json::to_value(ApiDoc::openapi()).expect("serialises");
        let profile = ServerProfile {
            name: "a".into(),
            photo_url: String::new(),
            version: 1,
            updated_at: "t".into(),
            // Optional fields set, so that they are serialised and compared too.
            mutation_id: Some("m".into()),
        };
        let cases: Vec<(&str, BTreeSet<String>)> = vec![
            (
                "Credentials",
                keys(&Credentials {
                    username: "u".into(),
                    password: "p".into(),
                }),
            ),
            ("TokenResponse", keys(&TokenResponse { token: "t".into() })),
            ("ProfileFields", keys(&ProfileFields::default())),
            ("ServerProfile", keys(&profile)),
            ("ProfileChanged", keys(&ProfileChanged { version: 1 })),
            (
                "ErrorBody",
                keys(&ErrorBody {
                    error: "e".into(),
                    message: "m".into(),
                    field: Some("f".into()),
                    current: Some(profile.clone()),
                }),
            ),
        ];
        for (name, expected) in cases {
            assert_eq!(schema_keys(&doc, name), expected, "schema {name}");
        }
        for path in [
            "/api/accounts",
            "/api/sessions",
            "/api/sessions/current",
            "/api/profile",
            "/api/events",
            "/healthz",
            "/readyz",
            "/metrics",
        ] {
            assert!(doc["paths"][path].is_object(), "{path} documented");
        }
    }
}
