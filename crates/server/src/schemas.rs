//! The OpenAPI schemas of the wire types. Those types live in `outpost-core`, which depends
//! on serde alone, so their schemas are built here with utoipa's builders under the same
//! names; a test of the OpenAPI document checks that every schema lists exactly the fields serde
//! writes, so the two cannot drift. A leaf module: the routes describe their bodies with it,
//! and the document is built from the routes.

use std::borrow::Cow;

use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

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
        .property(
            "photo_url",
            string(
                "Empty, an absolute http(s) URL of at most 2048 bytes, or `/api/photos/{sha256}` \
                 (64 lowercase hex digits) of a photo this account uploaded"
            )
        )
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
        .property("field_versions", Ref::from_schema_name("FieldVersions"))
        .required("name")
        .required("photo_url")
        .required("version")
        .required("updated_at")
);

doc_schema!(
    /// Schema of [`outpost_core::wire::FieldVersions`].
    FieldVersionsDoc,
    "FieldVersions",
    ObjectBuilder::new()
        .description(Some(
            "Per field, the version whose write last changed its value: a field changed and \
             changed back since a version a client saw has the same value but a newer version \
             here. Absent from servers older than it"
        ))
        .property("name", version("The version that last changed the name"))
        .property("photo_url", version("The version that last changed the photo URL"))
        .required("name")
        .required("photo_url")
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
