//! The OpenAPI document, generated from the one declaration of the routes
//! ([`crate::routes::api`]) and their `#[utoipa::path]` annotations, with the refusals that
//! whole classes of routes share added here once ([`shared_refusals`]).
//! The schemas of the wire types are in [`crate::schemas`].

use std::sync::OnceLock;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::{ContentBuilder, HeaderBuilder, Ref, RefOr};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;

use crate::schemas::{
    CredentialsDoc, ErrorBodyDoc, FieldVersionsDoc, ProfileChangedDoc, ProfileFieldsDoc,
    ServerProfileDoc, TokenResponseDoc,
};

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

/// The document's frame: what is not a route (title, schemas, the bearer scheme).
#[derive(OpenApi)]
#[openapi(
    info(title = "Outpost API", description = "Accounts, sessions and the versioned profile of an offline-first app."),
    components(schemas(
        CredentialsDoc, TokenResponseDoc, ProfileFieldsDoc, ServerProfileDoc, FieldVersionsDoc,
        ErrorBodyDoc, ProfileChangedDoc
    )),
    modifiers(&BearerScheme)
)]
pub struct ApiDoc;

/// The path of the document itself (served, not documented).
pub const DOCUMENT_PATH: &str = "/api/openapi.json";

/// A refusal with the error body.
fn refusal(description: &str, retry_after: bool) -> RefOr<Response> {
    let mut response = ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ErrorBody")))
            .build(),
    );
    if retry_after {
        response = response.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(u64::schema())
                .description(Some("Seconds to wait"))
                .build(),
        );
    }
    RefOr::T(response.build())
}

/// Adds the refusals a class of routes shares, declared here once instead of on every route
/// (a route's own description of the same status is kept): every `limited` route may be
/// answered 408 (it did not arrive in time) and 503 (the server sheds load), every route
/// with the bearer scheme 401 and 429 (its token's request budget), every route with a JSON
/// body 400, 413 and 415.
pub fn shared_refusals(doc: &mut utoipa::openapi::OpenApi, limited: &[String]) {
    for (path, item) in doc.paths.paths.iter_mut() {
        let is_limited = limited.contains(path);
        for operation in operations(item) {
            let authed = operation.security.as_ref().is_some_and(|s| !s.is_empty());
            let responses = &mut operation.responses.responses;
            let mut add = |status: &str, response: RefOr<Response>| {
                responses.entry(status.to_owned()).or_insert(response);
            };
            if authed {
                add("401", refusal("No valid session", false));
                let limit =
                    "This session token made its most requests this minute; see Retry-After";
                add("429", refusal(limit, true));
            }
            if operation.request_body.is_some() {
                add("400", refusal("Malformed JSON", false));
                add("413", refusal("Body too large", false));
                add("415", refusal("Body is not JSON", false));
            }
            if is_limited {
                add(
                    "408",
                    refusal(
                        "The request did not arrive and finish within the request timeout",
                        false,
                    ),
                );
                add("503", refusal("Overloaded; see Retry-After", true));
            }
        }
    }
}

/// Every answer that carries a session token also marks the browser
/// ([`crate::device_cookie`]): its `Set-Cookie`, declared here once.
pub fn device_cookie_headers(doc: &mut utoipa::openapi::OpenApi) {
    let token = format!("#/components/schemas/{}", TokenResponseDoc::name());
    for item in doc.paths.paths.values_mut() {
        for operation in operations(item) {
            for response in operation.responses.responses.values_mut() {
                let RefOr::T(response) = response else {
                    continue;
                };
                let carries_token = response.content.values().any(|content| {
                    matches!(&content.schema, Some(RefOr::Ref(r)) if r.ref_location == token)
                });
                if carries_token {
                    let header = HeaderBuilder::new()
                        .schema(String::schema())
                        .description(Some(
                            "`outpost_device=1`: this browser was signed in (no secret)",
                        ));
                    response
                        .headers
                        .insert("Set-Cookie".to_owned(), header.build());
                }
            }
        }
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
        item.head.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// The API's OpenAPI document, built once from [`crate::routes::api`].
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOCUMENT: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let (limited, open) = crate::routes::api();
        let limited_paths: Vec<String> =
            limited.get_openapi().paths.paths.keys().cloned().collect();
        let mut doc = OpenApiRouter::<crate::AppState>::with_openapi(ApiDoc::openapi())
            .merge(limited)
            .merge(open)
            .into_openapi();
        shared_refusals(&mut doc, &limited_paths);
        device_cookie_headers(&mut doc);
        doc
    })
}

/// Every route the server documents, and the document's own path: the metrics' route labels.
pub fn route_paths() -> &'static [&'static str] {
    static PATHS: OnceLock<Vec<&'static str>> = OnceLock::new();
    PATHS.get_or_init(|| {
        document()
            .paths
            .paths
            .keys()
            .map(|path| -> &'static str { Box::leak(path.clone().into_boxed_str()) })
            .chain([DOCUMENT_PATH])
            .collect()
    })
}

/// `GET /api/openapi.json`.
pub async fn openapi_json() -> axum::Json<&'static utoipa::openapi::OpenApi> {
    axum::Json(document())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use outpost_core::wire::{
        Credentials, ErrorBody, FieldVersions, ProfileChanged, ProfileFields, ServerProfile,
        TokenResponse,
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
        let doc = serde_json::to_value(document()).expect("serialises");
        let profile = ServerProfile {
            name: "a".into(),
            photo_url: String::new(),
            version: 1,
            updated_at: "t".into(),
            // Optional fields set, so that they are serialised and compared too.
            mutation_id: Some("m".into()),
            field_versions: Some(FieldVersions::all(1)),
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
            ("FieldVersions", keys(&FieldVersions::all(1))),
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
