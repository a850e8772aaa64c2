//! Service work (§2), one module per resource: customers and products, requests with the
//! dispatch queue and the returned forms, finance's invoice queue, take-back custody with the
//! product register and overdue repairs, and the daily reconciliation and cost ledger.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use fieldloop_client_core::model::money::fen_to_yuan;
use fieldloop_client_core::model::{DocKind, FieldValue, RecordDoc, Role};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::records::{FieldView, field_views};
use super::{parse_month, role_in};
use crate::AppState;
use crate::access::Principal;
use crate::db::service::{
    CustodyRow, Customer, Product, VisitRow, custody_event, load_receipt, move_receipt,
    visit_receipt_locations,
};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::records::{server_create_in, server_edit, server_edit_in};
use crate::workflow::calendar::{local_date, month_bounds};
use crate::workflow::service::{
    Billing, CustodyEvent, Location, custody_step, in_warranty, is_priority, warranty_last_day,
};

mod custody;
mod customers;
mod invoices;
mod ledgers;
mod requests;

pub use custody::*;
pub use customers::*;
pub use invoices::*;
pub use ledgers::*;
pub use requests::*;

fn region_filter(p: &Principal) -> Option<&str> {
    if p.is_head_office() {
        None
    } else {
        p.region.as_deref()
    }
}

pub(super) fn trimmed(v: &str, what: &str) -> AppResult<String> {
    let zh = match what {
        "customer name" => "客户名称",
        "address" => "地址",
        "phone" => "电话",
        "product name" => "产品名称",
        "model" => "型号",
        _ => "此项",
    };
    let t = v.trim();
    if t.is_empty() {
        Err(AppError::invalid(format!("the {what} is needed")).with_zh(Some(format!("请填写{zh}"))))
    } else if t.chars().count() > 500 || t.contains(['\n', '\r']) {
        Err(AppError::invalid(format!(
            "the {what} must be one line of at most 500 characters"
        ))
        .with_zh(Some(format!("{zh}须为一行,最多 500 个字符"))))
    } else {
        Ok(t.to_string())
    }
}

/// A field of a record as text ("" when unset).
pub(super) fn text_of(doc: &RecordDoc, path: &str) -> String {
    doc.get(path)
        .and_then(|v| v.as_text().map(str::to_string))
        .unwrap_or_default()
}

/// A service visit with its labelled fields, as an action leaves it.
#[derive(Debug, Serialize, ToSchema)]
pub struct VisitView {
    pub id: Uuid,
    pub fields: Vec<FieldView>,
}
