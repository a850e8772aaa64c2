//! The HTTP API: one module per resource, each adding its routes to one OpenAPI-aware router,
//! so the API description is generated from the same table that serves requests.

mod accounts;
pub(crate) mod blobs;
pub mod complaints;
pub(crate) mod docs;
pub mod error;
mod health;
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
}

/// The OpenAPI description of every route.
pub fn api_description() -> utoipa::openapi::OpenApi {
    routes().split_for_parts().1
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

/// Builds the router and its description.
pub fn router(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    let (router, api) = routes().split_for_parts();
    let router = router
        .merge(crate::web::routes())
        .fallback(no_route)
        .layer(axum::middleware::from_fn(error::json_rejections))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(RequestDecompressionLayer::new())
        // Small answers (an idle sync, an error) go uncompressed: a gzip stream costs more to set
        // up than it saves on a few hundred bytes.
        .layer(
            CompressionLayer::new()
                .compress_when(DefaultPredicate::new().and(SizeAbove::new(COMPRESS_ABOVE_BYTES))),
        )
        .layer(TraceLayer::new_for_http())
        .with_state(state);
    (router, api)
}
