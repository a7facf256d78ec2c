//! The router and the OpenAPI document, generated from the handlers' annotations.

pub mod access;
pub mod common;
pub mod companies;
pub mod count;
pub mod credit;
pub mod groups;
pub mod health;
pub mod imports;
pub mod subscribers;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{FieldError, Problem};
use crate::startup::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Ulak API",
        description = "Ulak: self-hosted corporate messaging hub. Authenticate with `Authorization: Bearer <api key>`."
    ),
    modifiers(&BearerAuth),
    components(schemas(Problem, FieldError))
)]
struct ApiDoc;

/// Declares the bearer API key scheme the paths refer to.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The OpenAPI document of every route.
pub fn openapi() -> utoipa::openapi::OpenApi {
    build().1
}

/// The application's router.
pub fn router(state: AppState) -> Router {
    let limit = state.settings().max_body_bytes;
    build()
        .0
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .with_state(state)
}

fn build() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let api = OpenApiRouter::new()
        .routes(routes!(count::count))
        .merge(subscribers::routes())
        .merge(groups::routes())
        .merge(companies::routes())
        .merge(access::routes())
        .merge(credit::routes())
        .merge(imports::routes());
    let (router, doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .nest("/api/v1", api)
        .split_for_parts();
    let served = Arc::new(doc.clone());
    let router = router.route(
        "/api/v1/openapi.json",
        get(move || {
            let doc = Arc::clone(&served);
            async move { axum::Json(doc.as_ref().clone()) }
        }),
    );
    (router, doc)
}
