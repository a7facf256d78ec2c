//! The router and the OpenAPI document, generated from the handlers' annotations.

pub mod access;
pub mod campaigns;
pub mod common;
pub mod companies;
pub mod count;
pub mod credit;
pub mod customers;
pub mod groups;
pub mod health;
pub mod imports;
pub mod inbox;
pub mod message_batch;
pub mod message_list;
pub mod messages;
pub mod provider_status;
pub mod provider_test;
pub mod routing;
pub mod schema;
pub mod simulator;
pub mod sms_settings;
pub mod subscribers;
pub mod templates;
pub mod webhooks;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use axum::response::IntoResponse;

use crate::error::{ApiError, FieldError, Problem};
use crate::startup::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Ulak API",
        description = "Ulak: self-hosted corporate messaging hub. Authenticate with `Authorization: Bearer <api key>`."
    ),
    modifiers(&BearerAuth),
    components(schemas(
        Problem,
        FieldError,
        schema::Phone,
        schema::PhoneOrEmpty,
        schema::Tckn,
        schema::TcknOrEmpty,
        schema::Recipient,
        schema::Sender,
        schema::EmailOrEmpty,
        schema::WebhookUrl,
        schema::AttributeMap,
        schema::OptOutKeyword,
        schema::PastedNumber,
        schema::PastedTckn
    ))
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

/// Documents, on every operation, the problem answers any request can get: 400 (unreadable
/// query or body), 401 and 403 where a key is needed, 404 where the path names an object (or
/// a segment that is no id), 409 on writes, 413 and 422 where there is input, 414 for a URI
/// over 8 KiB, 408 (request time-out) and 429 (rate limits, with `Retry-After`). Handlers
/// document their own success and special cases.
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let problem = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build()
        };
        let too_many = {
            let mut r = problem(
                "Over a rate limit (per API key, per source address, or too many unknown keys from the address)",
            );
            r.headers.insert(
                "Retry-After".to_owned(),
                utoipa::openapi::HeaderBuilder::new()
                    .schema(Some(
                        utoipa::openapi::ObjectBuilder::new()
                            .schema_type(utoipa::openapi::schema::Type::Integer)
                            .minimum(Some(1)),
                    ))
                    .description(Some("Seconds to wait before trying again"))
                    .build()
                    .into(),
            );
            r
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let ops = [
                (item.get.as_mut(), false),
                (item.post.as_mut(), true),
                (item.put.as_mut(), true),
                (item.patch.as_mut(), true),
                (item.delete.as_mut(), false),
            ];
            for (op, writes) in ops.into_iter().filter_map(|(op, w)| op.map(|op| (op, w))) {
                if !path.starts_with("/api/v1/") {
                    continue;
                }
                let mut add = |code: &str, description: &str| {
                    op.responses
                        .responses
                        .entry(code.to_owned())
                        .or_insert_with(|| problem(description).into());
                };
                add("400", "The query or body cannot be read");
                add("401", "No or an unknown API key");
                add("403", "The key's role does not allow this");
                add("422", "Invalid input, with field-level messages");
                add("413", "The body is larger than allowed");
                add("408", "The request took longer than the request time-out");
                add("414", "The URI is longer than 8 KiB");
                if path.contains('{') {
                    add("404", "No such object in this company");
                }
                if writes {
                    add("409", "Conflicts with an existing object (a unique field)");
                }
                op.responses
                    .responses
                    .entry("429".to_owned())
                    .or_insert_with(|| too_many.clone().into());
            }
        }
    }
}

/// The OpenAPI document of every route.
pub fn openapi() -> utoipa::openapi::OpenApi {
    build().1
}

/// Longest request URI (path and query) read, in bytes; longer ones are a 414.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// The application's router. Answers the router gives by itself are problem documents too:
/// 404 for an unknown path, 405 for a known path with another method (with `Allow`), 414 for
/// a URI over [`MAX_URI_BYTES`].
pub fn router(state: AppState) -> Router {
    let limit = state.settings().max_body_bytes;
    build()
        .0
        .merge(crate::web::router())
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(axum::middleware::from_fn(uri_limit))
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limit_per_source,
        ))
        .layer(axum::middleware::from_fn(crate::error::localize))
        .with_state(state)
}

/// Counts every request against its source address's limit, except the health checks (a load
/// balancer's probes must not be refused because of what else came from its address).
async fn limit_per_source(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let path = request.uri().path();
    let exempt = path == "/healthz" || path == "/readyz";
    let source = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    if let (false, Some(ip)) = (exempt, source)
        && let Err(e) = state.limits().source(ip)
    {
        return e.into_response();
    }
    next.run(request).await
}

/// Refuses a URI longer than [`MAX_URI_BYTES`] before any route reads it.
async fn uri_limit(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let len = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if len > MAX_URI_BYTES {
        return ApiError::UriTooLong(MAX_URI_BYTES).into_response();
    }
    next.run(req).await
}

fn build() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let api = OpenApiRouter::new()
        .routes(routes!(count::count))
        .merge(subscribers::routes())
        .merge(groups::routes())
        .merge(companies::routes())
        .merge(access::routes())
        .merge(credit::routes())
        .merge(imports::routes())
        .merge(templates::routes())
        .merge(customers::routes())
        .merge(sms_settings::routes())
        .merge(provider_status::routes())
        .merge(provider_test::routes())
        .merge(routing::routes())
        .merge(messages::routes())
        .merge(message_list::routes())
        .merge(inbox::routes())
        .merge(simulator::routes())
        .merge(campaigns::routes())
        .merge(webhooks::routes());
    let (router, doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .nest("/api/v1", api)
        .split_for_parts();
    // After the routes are in: `modifiers` run before `OpenApiRouter` adds any path.
    let mut doc = doc;
    CommonResponses.modify(&mut doc);
    schema::CrossFieldRules.modify(&mut doc);
    let served = Arc::new(doc.clone());
    let router = router.route("/metrics", get(health::metrics)).route(
        "/api/v1/openapi.json",
        get(move || {
            let doc = Arc::clone(&served);
            async move { axum::Json(doc.as_ref().clone()) }
        }),
    );
    (router, doc)
}
