//! How the server's [`AppError`] is answered over HTTP: the one JSON shape
//! (`{"error": {code, message, retryable}}`) with the status its code calls for. Statuses are
//! decided here and nowhere else.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fieldloop_client_core::wire::{ErrorBody, ErrorDetail};

use crate::error::{AppError, ErrorCode};

/// The status of each code.
pub fn status_of(code: ErrorCode) -> StatusCode {
    use ErrorCode::*;
    match code {
        InvalidInput | MalformedBody | HashMismatch | OutOfWarranty => StatusCode::BAD_REQUEST,
        MissingToken | InvalidToken | TokenExpired | BadCredentials | AccountDisabled
        | InvalidRefreshToken | RefreshTokenExpired | RefreshTokenReplayed
        | RefreshTokenRevoked | SessionRevoked => StatusCode::UNAUTHORIZED,
        Forbidden | DeviceRevoked | WrongDepartment | AboveAuthority | InternalRecord
        | WrongRole => StatusCode::FORBIDDEN,
        NotFound | NoRoute => StatusCode::NOT_FOUND,
        BodyTooLarge | QuotaExceeded => StatusCode::PAYLOAD_TOO_LARGE,
        UsernameTaken | ActorTaken | Stale | CaseClosed | AlreadyNumbered | NotAccepted
        | WrongStep | NotReady | NotClosed | ComplaintNotValid | NoApprovedReturn
        | AlreadyOpened | AlreadyDone | AlreadyConfirmed | QuantityMismatch | AmountMismatch
        | AlreadyDispatched | MissingCategory | NoFee | AlreadyLogged | AlreadyArchived
        | WrongState | AlreadyVoided | CampaignClosed | FeedbackClosed | AlreadyLinked
        | ChangedMeanwhile => StatusCode::CONFLICT,
        TooManyAttempts => StatusCode::TOO_MANY_REQUESTS,
        Busy => StatusCode::SERVICE_UNAVAILABLE,
        Internal | Unknown => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = status_of(self.code);
        let retryable = status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS;
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
                message_zh: self.message_zh,
                retryable,
            },
        };
        (status, Json(body)).into_response()
    }
}

/// Whether `path` is the API's (not a page: `/` and `/web...`).
pub fn is_api(path: &str) -> bool {
    path != "/" && !path.starts_with("/web")
}

/// The framework's own refusals of an API request (an unreadable JSON body, a wrong content
/// type, a query or path that does not parse, a method the route does not have) come as plain
/// text with statuses of their own; this turns them into the one JSON shape, with the status
/// of their code; so do a body in an encoding the server cannot undo and a fault answered
/// without a body. Pages (`/` and `/web...`) are left as they are.
/// `api`: whether the request was the API's ([`is_api`]).
pub async fn in_api_shape(api: bool, response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !api || is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let code = match status {
        s if s.is_server_error() && s != StatusCode::SERVICE_UNAVAILABLE => ErrorCode::Internal,
        StatusCode::SERVICE_UNAVAILABLE => ErrorCode::Busy,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::MalformedBody,
        StatusCode::METHOD_NOT_ALLOWED => ErrorCode::NoRoute,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::BodyTooLarge,
        _ => ErrorCode::InvalidInput,
    };
    let text = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let message = match code {
        ErrorCode::MalformedBody if status == StatusCode::UNSUPPORTED_MEDIA_TYPE
            && text.is_empty() =>
        {
            "send the body as JSON, with Content-Type: application/json (and Content-Encoding gzip or none)".to_string()
        }
        ErrorCode::MalformedBody if status == StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            "send the body as JSON, with Content-Type: application/json".to_string()
        }
        ErrorCode::NoRoute => "this endpoint does not take that method".to_string(),
        ErrorCode::Internal => "the server failed; try again, and tell the administrator if it persists".to_string(),
        ErrorCode::Busy => "the server is busy; try again in a moment".to_string(),
        _ if text.is_empty() => "the request cannot be read".to_string(),
        _ => text,
    };
    AppError::new(code, message).into_response()
}
