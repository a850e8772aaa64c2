//! Counting every request by route, and `GET /metrics` (Prometheus' text format).
//!
//! `/metrics` answers clients on this machine (a local Prometheus or agent); when
//! `FIELDLOOP_METRICS_TOKEN` is set, instead those that send it as a bearer token. A reverse
//! proxy in front must not pass `/metrics` on (README, "Deployment").

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::metrics::{POOL_CONNECTIONS, STEPS_OPEN, STEPS_OVERDUE};
use crate::workflow::complaint::Department;

/// Counts and times each request under its route's pattern (`/api/docs/{id}`, not the id), so
/// that the number of series stays fixed; requests no route matched count as `unmatched`.
/// The same layer gives the framework's refusals of API requests the API's shape
/// ([`super::error::in_api_shape`]): one middleware instead of two, as each costs every
/// request a clone of the route behind it.
pub async fn count_requests(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let route = request.extensions().get::<MatchedPath>().cloned();
    let method = request.method().clone();
    let api = super::error::is_api(request.uri().path());
    let start = crate::clock::monotonic();
    let response = super::error::in_api_shape(api, next.run(request).await).await;
    state.metrics.request(
        &method,
        route.as_ref().map_or("unmatched", MatchedPath::as_str),
        response.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    response
}

const DEPARTMENTS: [Department; 7] = [
    Department::Marketing,
    Department::Quality,
    Department::Production,
    Department::RnD,
    Department::GmOffice,
    Department::Finance,
    Department::Warehouse,
];

fn department_code(d: Department) -> String {
    serde_json::to_value(d)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Everything counted so far, with the gauges read now: the database pool, and the complaint
/// steps open and overdue by department (by the business clock).
pub async fn metrics(
    State(state): State<AppState>,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
) -> AppResult<Response> {
    // With a token set, the token is needed from everywhere; without one, only this machine.
    let allowed = match state.config.metrics_token.as_deref() {
        Some(token) => headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|sent| {
                // Digests compared, so the time taken tells nothing of the token.
                use sha2::Digest as _;
                sha2::Sha256::digest(sent.as_bytes()) == sha2::Sha256::digest(token.as_bytes())
            }),
        None => peer.is_some_and(|axum::Extension(ConnectInfo(a))| a.ip().is_loopback()),
    };
    if !allowed {
        return Err(AppError::new(
            ErrorCode::Forbidden,
            "the metrics are for this machine, or, when FIELDLOOP_METRICS_TOKEN is set, for a client that sends it as a bearer token",
        ));
    }
    let pool = &state.db.pool;
    let size = f64::from(pool.size());
    let idle = pool.num_idle() as f64;
    let m = &state.metrics;
    m.gauge(POOL_CONNECTIONS, &[("state", "idle")]).set(idle);
    m.gauge(POOL_CONNECTIONS, &[("state", "in_use")])
        .set((size - idle).max(0.0));
    let now = state.now();
    let cases = state.db.cases(None, Some("open")).await?;
    for d in DEPARTMENTS {
        let open = cases
            .iter()
            .flat_map(|c| &c.steps)
            .filter(|s| s.done_at.is_none() && s.department == d)
            .count();
        let overdue = cases
            .iter()
            .flat_map(|c| c.overdue(now))
            .filter(|(_, dept, _)| *dept == d)
            .count();
        let code = department_code(d);
        m.gauge(STEPS_OPEN, &[("department", &code)])
            .set(open as f64);
        m.gauge(STEPS_OVERDUE, &[("department", &code)])
            .set(overdue as f64);
    }
    Ok((
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        m.render(),
    )
        .into_response())
}
