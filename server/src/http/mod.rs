//! The HTTP API: one module per resource, each adding its routes to one OpenAPI-aware router,
//! so the API description is generated from the same table that serves requests.

mod accounts;
mod alerts;
pub(crate) mod blobs;
pub mod complaints;
pub(crate) mod docs;
pub mod error;
mod health;
mod masters;
mod observe;
pub(crate) mod reports;
pub(crate) mod service;
mod sync;
pub(crate) mod visits;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use tower_http::compression::CompressionLayer;
use tower_http::compression::Predicate;
use tower_http::compression::predicate::{DefaultPredicate, SizeAbove};
use tower_http::decompression::RequestDecompressionLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;
use crate::error::{AppError, ErrorCode};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Fieldloop",
        description = "After-sales service and complaint handling (BC-DIR-059): sync for devices and the back-office API. Errors are always {\"error\": {code, message, retryable}}."
    ),
    components(schemas(fieldloop_client_core::wire::ErrorBody))
)]
struct ApiDoc;

fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(health::routes())
        .merge(accounts::routes())
        .merge(sync::routes())
        .merge(blobs::routes())
        .merge(docs::routes())
        .merge(visits::routes())
        .merge(complaints::routes())
        .merge(service::routes())
        .merge(reports::routes())
        .merge(masters::routes())
        .merge(alerts::routes())
}

/// The OpenAPI description of every route.
pub fn api_description() -> utoipa::openapi::OpenApi {
    let mut api = routes().split_for_parts().1;
    document_errors(&mut api);
    api
}

/// Every operation may answer with the one error shape under these statuses (bad input, not
/// signed in, not allowed, not found, a conflict, too large, too many attempts, a fault, busy);
/// each is listed where the operation does not already describe it, so a client knows every
/// status it can get. Which code comes with which status is `error::status_of`.
fn document_errors(api: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    const STATUSES: &[(&str, &str)] = &[
        ("400", "The request cannot be read or does not fit"),
        ("401", "Not signed in, or the session ended"),
        ("403", "Not allowed for this role or region"),
        ("404", "No such record that the caller may see"),
        ("409", "The record is not in a state for this"),
        ("413", "Too large"),
        ("429", "Too many failed sign-ins"),
        ("500", "The server failed"),
        ("503", "Too busy; try again in a moment"),
    ];
    for item in api.paths.paths.values_mut() {
        for op in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            for (status, description) in STATUSES {
                op.responses
                    .responses
                    .entry((*status).to_string())
                    .or_insert_with(|| {
                        ResponseBuilder::new()
                            .description(*description)
                            .content(
                                "application/json",
                                ContentBuilder::new()
                                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                                    .build(),
                            )
                            .build()
                            .into()
                    });
            }
        }
    }
}

/// Answers at least this large are gzip-compressed when the client accepts it.
const COMPRESS_ABOVE_BYTES: u64 = 1024;

/// Bodies larger than this (after decompression) are refused with `body_too_large`.
pub const MAX_BODY_BYTES: usize = fieldloop_client_core::wire::MAX_SYNC_BODY;

async fn no_route() -> AppError {
    AppError::new(ErrorCode::NoRoute, "there is no such endpoint")
}

/// Maps an unreadable or oversized body to the API's error shape.
pub(crate) fn body_error(rejection: BytesRejection) -> AppError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        AppError::new(
            ErrorCode::BodyTooLarge,
            format!("the request body is larger than the {MAX_BODY_BYTES} bytes allowed"),
        )
    } else {
        AppError::invalid(format!("the request body cannot be read: {rejection}"))
    }
}

/// Names the signed-in user (their id) on the request's access log line.
pub(crate) fn log_user(user_id: uuid::Uuid) {
    tracing::Span::current().record("user", tracing::field::display(user_id));
}

/// Builds the router and its description.
pub fn router(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    let (router, mut api) = routes().split_for_parts();
    document_errors(&mut api);
    let router = router
        .merge(crate::web::routes())
        .route("/metrics", axum::routing::get(observe::metrics))
        .fallback(no_route)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(RequestDecompressionLayer::new())
        // Counted, and refusals in the API's shape: outside the decompression, so that its
        // refusals come in that shape too.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            observe::count_requests,
        ))
        // Small answers (an idle sync, an error) go uncompressed: a gzip stream costs more to set
        // up than it saves on a few hundred bytes.
        .layer(
            CompressionLayer::new()
                .compress_when(DefaultPredicate::new().and(SizeAbove::new(COMPRESS_ABOVE_BYTES))),
        )
        // The access log: one line per request (method, path, user, status, milliseconds) at
        // info.
        // The path only: a query can carry a customer's access code (§4.6.9).
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &axum::http::Request<axum::body::Body>| {
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        path = %request.uri().path(),
                        user = tracing::field::Empty,
                    )
                })
                .on_request(())
                .on_response(
                    tower_http::trace::DefaultOnResponse::new()
                        .level(tracing::Level::INFO)
                        .latency_unit(tower_http::LatencyUnit::Millis),
                ),
        )
        .with_state(state);
    (router, api)
}
