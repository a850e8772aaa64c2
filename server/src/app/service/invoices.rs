//! Finance's invoice queue for paid work (§2.4).

use super::*;

#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceItem {
    pub id: Uuid,
    pub customer_name: String,
    pub fee: String,
    /// The same fee in fen.
    pub fee_fen: i64,
    /// cash_on_site or invoice_later.
    pub method: String,
    /// requested, or the step finance recorded last: issued or collected.
    pub invoice_state: String,
    pub issued: bool,
    pub collected: bool,
    /// The invoice's number once issued.
    pub invoice_no: String,
}

/// Finance's queue (§2.4): paid jobs whose invoice is not yet issued or whose money is not yet
/// collected (cash taken on site may be handed in before its invoice is mailed).
pub async fn invoice_queue(state: &AppState, p: &Principal) -> AppResult<Vec<InvoiceItem>> {
    role_in(p, &[Role::Finance], "the invoice queue")?;
    let items = state
        .db
        .visits(region_filter(p))
        .await?
        .into_iter()
        .filter(|v| v.int("fee.amount_fen") > 0 && !billing_of(v).settled())
        .map(|v| InvoiceItem {
            id: v.id,
            customer_name: v.text("request.customer_name").into(),
            fee: fen_to_yuan(v.int("fee.amount_fen")).to_string(),
            fee_fen: v.int("fee.amount_fen"),
            method: v.text("fee.method").into(),
            invoice_state: match v.text("billing.invoice_state") {
                "" => "requested".into(),
                s => s.into(),
            },
            issued: billing_of(&v).issued,
            collected: billing_of(&v).collected,
            invoice_no: v.text("billing.invoice_no").into(),
        })
        .collect();
    Ok(items)
}

/// How far finance has gone with a visit's fee.
fn billing_of(v: &VisitRow) -> Billing {
    Billing {
        issued: !v.text("billing.issued_at").is_empty(),
        collected: !v.text("billing.collected_at").is_empty(),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct InvoiceUpdate {
    /// `issued` or `collected`.
    pub state: String,
    /// The invoice's number, required when it is issued (at most 40 characters).
    #[serde(default)]
    pub invoice_no: Option<String>,
}

/// Finance records an invoice issued or the money collected (§2.4).
pub async fn set_invoice(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    body: InvoiceUpdate,
) -> AppResult<VisitView> {
    role_in(p, &[Role::Finance], "invoices")?;
    let now = state.now().to_rfc3339();
    let target = body.state.trim().to_string();
    let number = body.invoice_no.as_deref().unwrap_or("").trim().to_string();
    if target == "issued" {
        if number.is_empty() {
            return Err(
                AppError::invalid("an issued invoice needs its number (§2.4)")
                    .with_zh(Some("开具发票须填写发票号码(§2.4)".into())),
            );
        }
        if number.chars().count() > 40 || number.chars().any(char::is_control) {
            return Err(AppError::invalid(
                "an invoice number is at most 40 characters on one line",
            )
            .with_zh(Some("发票号码最多 40 个字符,且不能换行".into())));
        }
    }
    let doc = server_edit(state, p, id, |doc| {
        let fee = doc
            .get("fee.amount_fen")
            .and_then(|v| v.as_int())
            .unwrap_or(0);
        if fee <= 0 {
            return Err(
                AppError::new(ErrorCode::NoFee, "this job has no fee to invoice")
                    .with_zh(Some("这次服务没有收费,无需开票".into())),
            );
        }
        let set = |path: &str| {
            doc.get(path)
                .and_then(|v| v.as_text().map(|t| !t.is_empty()))
                .unwrap_or(false)
        };
        let billing = Billing {
            issued: set("billing.issued_at"),
            collected: set("billing.collected_at"),
        };
        let method = doc
            .get("fee.method")
            .and_then(|v| v.as_text().map(str::to_string))
            .unwrap_or_default();
        if !matches!(target.as_str(), "issued" | "collected") {
            return Err(AppError::invalid("state is issued or collected")
                .with_zh(Some("状态须为已开票或已收款".into())));
        }
        billing.record(&method, &target).map_err(|why| {
            let zh = if why.contains("already issued") {
                "发票已开具过"
            } else if why.contains("already collected") {
                "该费用已收款"
            } else if why.contains("issue the invoice first") {
                "开票后收费的费用须先开具发票再收款(§2.4)"
            } else {
                "当前状态下不能这样做"
            };
            AppError::new(ErrorCode::WrongState, why).with_zh(Some(zh.into()))
        })?;
        let at = if target == "issued" {
            "billing.issued_at"
        } else {
            "billing.collected_at"
        };
        let mut writes = vec![
            ("billing.invoice_state", target.clone().into()),
            (at, now.into()),
        ];
        if target == "issued" {
            writes.push(("billing.invoice_no", number.clone().into()));
        }
        Ok(writes)
    })
    .await?;
    Ok(VisitView {
        id,
        fields: field_views(&doc),
    })
}
