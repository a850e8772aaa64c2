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
        BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        UsernameTaken | ActorTaken | Stale | CaseClosed | AlreadyNumbered | NotAccepted
        | WrongStep | NotReady | NotClosed | ComplaintNotValid | NoApprovedReturn
        | AlreadyOpened | AlreadyDone | AlreadyConfirmed | QuantityMismatch | AmountMismatch
        | AlreadyDispatched | MissingCategory | NoFee | AlreadyLogged | AlreadyArchived
        | WrongState | AlreadyVoided | CampaignClosed | FeedbackClosed | AlreadyLinked
        | ChangedMeanwhile => StatusCode::CONFLICT,
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
                retryable,
            },
        };
        (status, Json(body)).into_response()
    }
}
