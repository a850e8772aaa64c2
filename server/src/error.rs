//! The server's one error: a stable [`ErrorCode`] and a message for people. It says what went
//! wrong, not how to answer it: the HTTP status is decided at the HTTP edge
//! (`http::error`), a page shows it in the user's language. Causes of server faults are logged,
//! never sent.

pub use fieldloop_client_core::wire::ErrorCode;

#[derive(Debug)]
pub struct AppError {
    pub code: ErrorCode,
    pub message: String,
    /// The same in Chinese, where the rule that refused has its words ready (amounts in yuan,
    /// the regulation's section): pages show it, and the API sends it as `message_zh`.
    pub message_zh: Option<String>,
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        AppError {
            code,
            message: message.into(),
            message_zh: None,
        }
    }
    /// With its Chinese words.
    pub fn with_zh(mut self, message_zh: Option<String>) -> Self {
        self.message_zh = message_zh;
        self
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidInput, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }
    /// A fault of the server: the cause is logged, the caller is told only to try later.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "request failed");
        Self::new(ErrorCode::Internal, "the server failed; try again later")
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

/// Unique constraints a person can run into, by the name PostgreSQL gives them and the
/// `table.column` SQLite names in its message: a race that the checks before the insert cannot
/// see (two admins creating one username at once) ends as the same clear code.
const UNIQUE_CONSTRAINTS: &[(&str, &str, ErrorCode, &str)] = &[
    (
        "users_username_key",
        "users.username",
        ErrorCode::UsernameTaken,
        "the username is taken",
    ),
    (
        "devices_actor_id_key",
        "devices.actor_id",
        ErrorCode::ActorTaken,
        "this actor id is already bound to a device",
    ),
];

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e
            && db.is_unique_violation()
        {
            let message = db.message();
            if let Some((_, _, code, text)) =
                UNIQUE_CONSTRAINTS
                    .iter()
                    .find(|(pg_name, sqlite_column, _, _)| {
                        db.constraint() == Some(*pg_name) || message.contains(sqlite_column)
                    })
            {
                return AppError::new(*code, *text);
            }
        }
        AppError::internal(e)
    }
}

impl From<anyhow::Error> for AppError {
    fn from(e: anyhow::Error) -> Self {
        AppError::internal(e)
    }
}
