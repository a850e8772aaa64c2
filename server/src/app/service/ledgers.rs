//! The day's reconciliation of the service record against returned forms (§2.8) and the
//! service cost ledger (§2.9).

use super::*;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DayQuery {
    /// YYYY-MM-DD, company time; default today.
    pub date: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Reconciliation {
    pub date: NaiveDate,
    pub offices: Vec<OfficeDay>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OfficeDay {
    pub region: String,
    /// Requests registered in the service record that day.
    pub registered: usize,
    /// Of those, forms returned and logged.
    pub forms_logged: usize,
    /// Registered that day, no logged form yet.
    pub missing_forms: Vec<Uuid>,
    /// Registered that day, not dispatched: tomorrow's priority work (§2.8).
    pub not_dispatched: Vec<Uuid>,
}

/// Daily reconciliation per office (§2.8): the service record against the returned forms.
pub async fn reconciliation(
    state: &AppState,
    p: &Principal,
    q: DayQuery,
) -> AppResult<Reconciliation> {
    role_in(
        p,
        &[
            Role::Clerk,
            Role::MarketingHead,
            Role::Salesperson,
            Role::FactoryDirector,
            Role::Quality,
        ],
        "reconciliation",
    )?;
    let tz = state.config.timezone;
    let date = match q.date.as_deref() {
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
            AppError::invalid(format!("'{d}' is not a date"))
                .with_zh(Some(format!("「{d}」不是日期")))
        })?,
        None => local_date(tz, state.now()),
    };
    let mut offices: BTreeMap<String, OfficeDay> = BTreeMap::new();
    for v in state.db.visits(region_filter(p)).await? {
        if v.text("request.customer_name").is_empty() || local_date(tz, v.registered_at()) != date {
            continue;
        }
        let day = offices
            .entry(v.region.clone())
            .or_insert_with(|| OfficeDay {
                region: v.region.clone(),
                registered: 0,
                forms_logged: 0,
                missing_forms: Vec::new(),
                not_dispatched: Vec::new(),
            });
        day.registered += 1;
        if v.text("status.logged_at").is_empty() {
            day.missing_forms.push(v.id);
        } else {
            day.forms_logged += 1;
        }
        if v.assignee.is_none() {
            day.not_dispatched.push(v.id);
        }
    }
    Ok(Reconciliation {
        date,
        offices: offices.into_values().collect(),
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MonthQuery {
    /// YYYY-MM, company time.
    pub month: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CostLine {
    pub visit_id: Uuid,
    pub product_model: String,
    pub category: String,
    pub travel_fen: i64,
    pub allowance_fen: i64,
    pub parts_fen: i64,
    pub repair_fen: i64,
    pub total_fen: i64,
    /// What the customer paid (fee), beside the cost.
    pub paid_fen: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CostTotals {
    pub key: String,
    pub jobs: usize,
    pub cost_fen: i64,
    pub paid_fen: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CostLedger {
    pub month: String,
    pub lines: Vec<CostLine>,
    pub by_model: Vec<CostTotals>,
    pub by_category: Vec<CostTotals>,
    pub total_cost_fen: i64,
    pub total_paid_fen: i64,
}

/// The product service cost ledger (§2.9): travel, allowance, parts and repair per job, with totals by
/// product model and category for a month; paid amounts beside cost. Exact to the fen.
pub async fn cost_ledger(state: &AppState, p: &Principal, q: MonthQuery) -> AppResult<CostLedger> {
    if p.role == Role::Technician {
        return Err(AppError::forbidden("the cost ledger is kept by the office")
            .with_zh(Some("费用台账由办公室保管".into())));
    }
    let tz = state.config.timezone;
    let (y, m) = parse_month(&q.month)?;
    let (from, to) = month_bounds(tz, y, m)
        .ok_or_else(|| AppError::invalid("no such month").with_zh(Some("没有这个月份".into())))?;
    let mut lines = Vec::new();
    for v in state.db.visits(region_filter(p)).await? {
        let at = v.registered_at();
        if at < from || at >= to || v.text("form.outcome").is_empty() {
            continue;
        }
        let cost = v.costs();
        lines.push(CostLine {
            visit_id: v.id,
            product_model: v.text("request.product_model").into(),
            category: v.text("request.category").into(),
            travel_fen: cost.travel,
            allowance_fen: cost.allowance,
            parts_fen: cost.parts,
            repair_fen: cost.repair,
            total_fen: cost.total(),
            paid_fen: v.int("fee.amount_fen"),
        });
    }
    let totals = |key: fn(&CostLine) -> String| {
        let mut map: BTreeMap<String, CostTotals> = BTreeMap::new();
        for l in &lines {
            let k = key(l);
            let t = map.entry(k.clone()).or_insert(CostTotals {
                key: k,
                jobs: 0,
                cost_fen: 0,
                paid_fen: 0,
            });
            t.jobs += 1;
            t.cost_fen += l.total_fen;
            t.paid_fen += l.paid_fen;
        }
        map.into_values().collect::<Vec<_>>()
    };
    let by_model = totals(|l| l.product_model.clone());
    let by_category = totals(|l| l.category.clone());
    Ok(CostLedger {
        month: format!("{y:04}-{m:02}"),
        total_cost_fen: lines.iter().map(|l| l.total_fen).sum(),
        total_paid_fen: lines.iter().map(|l| l.paid_fen).sum(),
        lines,
        by_model,
        by_category,
    })
}
