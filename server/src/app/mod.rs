//! The application layer: what the office and the phones can do, as plain async functions
//! that take the server's state (its database and clock), the acting user and typed input, and
//! return a typed answer or an [`AppError`](crate::error::AppError). The HTTP API, the pages
//! and background jobs call these and never each other; the rules themselves are the pure
//! `workflow` modules, run here. Nothing here knows of HTTP.

pub mod accounts;
pub mod alerts;
pub mod blobs;
pub mod complaints;
pub mod masters;
pub mod records;
pub mod reports;
pub mod review;
pub mod service;
pub mod settlements;
pub mod surveys;
pub mod sync;
pub mod visits;

use fieldloop_client_core::model::Role;

use crate::access::Principal;
use crate::error::{AppError, AppResult};

/// An amount in yuan as a person writes it ("1500", "1500.50"), in fen; refused in both
/// languages when it is not one (negative, more than two decimals, words).
pub fn yuan(text: &str) -> AppResult<i64> {
    let text = text.trim();
    fieldloop_client_core::model::money::parse_yuan(text).map_err(|e| {
        AppError::invalid(e).with_zh(Some(format!(
            "「{text}」不是金额:请填写元,最多两位小数,例如 1500 或 1500.50"
        )))
    })
}

/// Refuses a caller whose role is not among `roles` (an admin may do anything).
pub fn role_in(p: &Principal, roles: &[Role], what: &str) -> AppResult<()> {
    if roles.contains(&p.role) || p.role == Role::Admin {
        Ok(())
    } else {
        Err(
            AppError::forbidden(format!("{what} is not for a {}", p.role.code()))
                .with_zh(Some(format!("这不属于{}的职责", p.role.label_zh()))),
        )
    }
}

/// Reads a `YYYY-MM` month.
pub fn parse_month(text: &str) -> AppResult<(i32, u32)> {
    crate::workflow::calendar::parse_month(text).ok_or_else(|| {
        AppError::invalid(format!("'{text}' is not a month (YYYY-MM)"))
            .with_zh(Some(format!("「{text}」不是月份(应为 YYYY-MM)")))
    })
}
