//! `GET /healthz` and the API description.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::AppResult;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
    /// `sqlite` or `postgres`.
    pub engine: &'static str,
    /// The database engine's own version.
    pub engine_version: String,
    /// This server's version.
    pub version: &'static str,
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(openapi_json))
}

/// Liveness and the database in use.
#[utoipa::path(get, path = "/healthz", responses((status = 200, body = Health)))]
async fn healthz(State(state): State<AppState>) -> AppResult<Json<Health>> {
    Ok(Json(Health {
        status: "ok",
        engine: state.db.engine.name(),
        engine_version: state.db.engine_version().await?,
        version: env!("CARGO_PKG_VERSION"),
    }))
}

/// This API's OpenAPI description.
#[utoipa::path(get, path = "/api/openapi.json", responses((status = 200, description = "OpenAPI 3.1 document")))]
async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(crate::openapi())
}
