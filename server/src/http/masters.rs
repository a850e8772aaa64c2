//! Regions and master data import over HTTP (`app::masters`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::app::masters::{self as app, ImportKind, ImportReport};
use crate::auth::Auth;
use crate::db::masters::Region;
use crate::error::AppResult;
use crate::http::body_error;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_regions, add_region))
        .routes(routes!(import))
        .routes(routes!(template))
}

/// The regional offices (everyone signed in).
#[utoipa::path(get, path = "/api/regions", responses((status = 200, body = Vec<Region>)), security(("bearer" = [])))]
async fn list_regions(
    State(state): State<AppState>,
    Auth(_): Auth,
) -> AppResult<Json<Vec<Region>>> {
    Ok(Json(app::regions(&state).await?))
}

/// Adds a regional office (admin only).
#[utoipa::path(post, path = "/api/regions", request_body = Region,
    responses((status = 201, body = Region)), security(("bearer" = [])))]
async fn add_region(
    State(state): State<AppState>,
    Auth(p): Auth,
    Json(body): Json<Region>,
) -> AppResult<(StatusCode, Json<Region>)> {
    Ok((
        StatusCode::CREATED,
        Json(app::add_region(&state, &p, body).await?),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ImportQuery {
    /// `true` writes the rows when every one is good; otherwise (the default) a dry run.
    #[serde(default)]
    commit: bool,
}

/// Checks a CSV or XLSX file of customers, products or users, reporting every bad row by
/// number and reason; with `commit=true` and no bad row, writes them all in one transaction
/// (admin only).
#[utoipa::path(post, path = "/api/import/{kind}",
    params(("kind" = String, Path, description = "customers, products or users"), ImportQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "the file, CSV (UTF-8) or XLSX"),
    responses((status = 200, body = ImportReport)), security(("bearer" = [])))]
async fn import(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(kind): Path<String>,
    Query(q): Query<ImportQuery>,
    body: Result<Bytes, BytesRejection>,
) -> AppResult<Json<ImportReport>> {
    let kind = ImportKind::parse(&kind)?;
    let body = body.map_err(body_error)?;
    Ok(Json(app::import(&state, &p, kind, &body, q.commit).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct TemplateQuery {
    /// `csv` (the default) or `xlsx`.
    format: Option<String>,
}

/// The template of an import: the header row and one example row.
#[utoipa::path(get, path = "/api/import/{kind}/template",
    params(("kind" = String, Path, description = "customers, products or users"), TemplateQuery),
    responses((status = 200, content_type = "text/csv")), security(("bearer" = [])))]
async fn template(
    State(_state): State<AppState>,
    Auth(_): Auth,
    Path(kind): Path<String>,
    Query(q): Query<TemplateQuery>,
) -> AppResult<impl IntoResponse> {
    let kind = ImportKind::parse(&kind)?;
    let xlsx = match q.format.as_deref() {
        None | Some("csv") => false,
        Some("xlsx") => true,
        Some(other) => {
            return Err(crate::error::AppError::invalid(format!(
                "a template is csv or xlsx, not '{other}'"
            )));
        }
    };
    let d = app::template_download(kind, xlsx)?;
    Ok((
        [
            (header::CONTENT_TYPE, d.mime.to_string()),
            (header::CONTENT_DISPOSITION, d.disposition),
        ],
        d.bytes,
    ))
}
