//! Back-office actions on service visits over HTTP (§2.2): dispatch.

use axum::Json;
use axum::extract::{Path, State};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::app::records::FieldView;
use crate::app::visits::{self as app, DispatchRequest};
use crate::auth::Auth;
use crate::error::AppResult;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(dispatch))
}

/// Dispatches a visit to a technician (派工, the factory director's decision). The technician's
/// device receives the job on its next sync.
#[utoipa::path(post, path = "/api/visits/{id}/dispatch", params(("id" = Uuid, Path)), request_body = DispatchRequest,
    responses((status = 200, body = Vec<FieldView>), (status = 403, body = fieldloop_client_core::wire::ErrorBody)), security(("bearer" = [])))]
async fn dispatch(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
    Json(body): Json<DispatchRequest>,
) -> AppResult<Json<Vec<FieldView>>> {
    Ok(Json(app::dispatch(&state, &p, id, body).await?))
}
