//! Reading merged records over HTTP: `GET /api/docs` and `GET /api/docs/{id}` (`app::records`).

use axum::Json;
use axum::extract::{Path, Query, State};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::app::records::{self as app, DocListItem, ListQuery, RecordView};
use crate::auth::Auth;
use crate::error::AppResult;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_docs))
        .routes(routes!(get_doc))
}

/// The records the caller may see, most recently changed first.
#[utoipa::path(get, path = "/api/docs", params(ListQuery), responses((status = 200, body = Vec<DocListItem>)), security(("bearer" = [])))]
async fn list_docs(
    State(state): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<ListQuery>,
) -> AppResult<Json<Vec<DocListItem>>> {
    Ok(Json(app::list_docs(&state, &p, q).await?))
}

/// One merged record with its fields, conflicts and history.
#[utoipa::path(get, path = "/api/docs/{id}", params(("id" = Uuid, Path)),
    responses((status = 200, body = RecordView), (status = 404, body = fieldloop_client_core::wire::ErrorBody)), security(("bearer" = [])))]
async fn get_doc(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
) -> AppResult<Json<RecordView>> {
    Ok(Json(app::get_doc(&state, &p, id).await?))
}
