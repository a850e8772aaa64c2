//! Head office and one regional office as signed-in people, for tests of the back-office
//! workflow: call the API as one of them, file a complaint, act on it, run it to closing.

use std::collections::HashMap;

use fieldloop_client_core::model::Role;
use reqwest::Method;
use serde_json::{Value, json};

use crate::{TestServer, call, login_token};

/// People signed in over HTTP, by name: call the API as one of them.
pub struct People {
    pub base: String,
    pub tokens: HashMap<&'static str, String>,
    pub ids: HashMap<&'static str, uuid::Uuid>,
}

impl People {
    /// Creates each account (password `<name>-password-for-tests`) and signs it in.
    pub async fn sign_in(
        server: &TestServer,
        people: &[(&'static str, Role, Option<&str>)],
    ) -> anyhow::Result<People> {
        let mut tokens = HashMap::new();
        let mut ids = HashMap::new();
        for (name, role, region) in people {
            let user = server.user(name, *role, *region).await?;
            ids.insert(*name, user.id);
            tokens.insert(*name, login_token(&server.base(), name).await?);
        }
        Ok(People {
            base: server.base(),
            tokens,
            ids,
        })
    }

    /// A JSON request as `who`; the status and the JSON answer.
    pub async fn call(
        &self,
        who: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        call(
            method,
            &format!("{}{path}", self.base),
            &self.tokens[who],
            body,
        )
        .await
    }

    /// Like [`call`](Self::call), and the answer must be a success.
    pub async fn ok(
        &self,
        who: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let (status, v) = self.call(who, method, path, body).await?;
        assert!((200..300).contains(&status), "{who} {path}: {status} {v}");
        Ok(v)
    }
}

/// Head office and one regional office, signed in, for the complaint workflow.
pub struct Office {
    pub people: People,
}

impl std::ops::Deref for Office {
    type Target = People;
    fn deref(&self) -> &People {
        &self.people
    }
}

pub const PEOPLE: &[(&str, Role, Option<&str>)] = &[
    ("sales", Role::Salesperson, Some("wuhan")),
    ("sales_x", Role::Salesperson, Some("xian")),
    ("head", Role::MarketingHead, Some("wuhan")),
    ("quality", Role::Quality, None),
    ("production", Role::Production, None),
    ("rnd", Role::RnD, None),
    ("gmo", Role::GmOffice, None),
    ("gm", Role::GeneralManager, None),
    ("chair", Role::Chairman, None),
    ("director", Role::FactoryDirector, None),
    ("finance", Role::Finance, None),
    ("warehouse", Role::Warehouse, None),
];

impl Office {
    pub async fn new(server: &TestServer) -> anyhow::Result<Office> {
        Ok(Office {
            people: People::sign_in(server, PEOPLE).await?,
        })
    }

    pub async fn file(&self, claimed: &str) -> anyhow::Result<String> {
        let (status, body) = self
            .call(
                "sales",
                Method::POST,
                "/api/complaints",
                Some(json!({
                    "customer_name": "湖北某建设公司", "order_number": "SO-2026-118", "product_model": "BC-300",
                    "quantity": 2, "delivery_date": "2026-09-01", "defect": "焊缝开裂",
                    "customer_demand": "更换并赔偿", "claimed": claimed
                })),
            )
            .await?;
        assert_eq!(status, 201, "{body}");
        Ok(body["id"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("no id in {body}"))?
            .to_string())
    }

    /// A case filed and run to production's countermeasure (quality accepts, sales
    /// investigates, quality reports and determines the fault is production's), all at the
    /// clock's present time; returns its id.
    pub async fn run_to_countermeasure(&self) -> anyhow::Result<String> {
        let id = self.file("0").await?;
        self.ok("quality", &id, json!({"action": "accept"})).await?;
        self.ok(
            "sales",
            &id,
            json!({"action": "investigate", "findings": "现场查看属实"}),
        )
        .await?;
        self.ok(
            "quality",
            &id,
            json!({"action": "submit_report", "text": "调查报告已报总经理"}),
        )
        .await?;
        self.ok("quality", &id, json!({"action": "determine", "cause_class": "quality", "valid": true, "fault_ours": true, "responsible_department": "production"})).await?;
        Ok(id)
    }

    pub async fn act(&self, who: &str, id: &str, action: Value) -> anyhow::Result<(u16, Value)> {
        self.call(
            who,
            Method::POST,
            &format!("/api/complaints/{id}/actions"),
            Some(action),
        )
        .await
    }

    pub async fn ok(&self, who: &str, id: &str, action: Value) -> anyhow::Result<Value> {
        let (status, body) = self.act(who, id, action.clone()).await?;
        assert_eq!(status, 200, "{who} {action}: {body}");
        Ok(body)
    }

    /// Runs a case from acceptance to the proposed amounts (salesperson), each waiting for
    /// approval as decisions 1, 2, ...; the department's loss is `loss_fen`.
    pub async fn run_to_amounts(
        &self,
        id: &str,
        loss_fen: i64,
        amounts_fen: &[i64],
    ) -> anyhow::Result<()> {
        self.ok("quality", id, json!({"action": "accept"})).await?;
        self.ok(
            "sales",
            id,
            json!({"action": "investigate", "findings": "底座焊缝开裂", "joint_visit": true}),
        )
        .await?;
        self.ok(
            "quality",
            id,
            json!({"action": "submit_report", "text": "调查报告:底座焊缝开裂,已报总经理"}),
        )
        .await?;
        self.ok("quality", id, json!({"action": "determine", "cause_class": "quality", "valid": true, "fault_ours": true, "responsible_department": "production"})).await?;
        self.ok("production", id, json!({"action": "production_report", "workshop": "焊接车间", "shift": "乙班", "operators": "赵师傅", "production_date": "2026-08-20", "countermeasure": "改用新夹具"})).await?;
        self.ok(
            "rnd",
            id,
            json!({"action": "rnd_opinion", "text": "同意;修改焊接工艺规范"}),
        )
        .await?;
        self.ok("gmo", id, json!({"action": "consolidate", "text": "赔偿客户", "remedy": "更换机架", "track_improvement": true, "loss_fen": loss_fen, "penalty": "书面警告"})).await?;
        for amount in amounts_fen {
            self.ok(
                "sales",
                id,
                json!({"action": "propose_amount", "kind": "compensation", "amount_fen": amount}),
            )
            .await?;
        }
        Ok(())
    }

    /// A report as the GM office reads it (JSON), which must answer 200.
    pub async fn report(&self, name: &str, month: &str) -> anyhow::Result<Value> {
        let path = format!("/api/reports/{name}?month={month}");
        let (status, body) = self.call("gmo", Method::GET, &path, None).await?;
        assert_eq!(status, 200, "{path}: {body}");
        Ok(body)
    }

    /// Runs a case through every step up to closing, with one amount to approve by `approver`.
    pub async fn run_to_close(
        &self,
        id: &str,
        amount_fen: i64,
        approver: &str,
    ) -> anyhow::Result<Value> {
        self.run_to_amounts(id, amount_fen, &[amount_fen]).await?;
        self.close_approved(id, &[(approver, 1)], amount_fen).await
    }

    /// As [`Office::run_to_close`] with a compensation of `amount_fen` (#1, approved by the
    /// marketing head), and then returns decided with their values and quantities (#2 on),
    /// each approved by `return_approver`.
    pub async fn run_to_close_returning(
        &self,
        id: &str,
        amount_fen: i64,
        returns: &[(i64, i64)],
        return_approver: &str,
    ) -> anyhow::Result<Value> {
        self.run_to_amounts(id, amount_fen, &[amount_fen]).await?;
        let mut approvals = vec![("head", 1)];
        for (n, (value_fen, quantity)) in returns.iter().enumerate() {
            self.ok(
                "sales",
                id,
                json!({"action": "propose_amount", "kind": "return_value", "amount_fen": value_fen, "quantity": quantity}),
            )
            .await?;
            approvals.push((return_approver, n as u32 + 2));
        }
        self.close_approved(id, &approvals, amount_fen).await
    }

    /// Approves the case's amounts (approver, decision) and takes it through the director's
    /// approval, the customer's answer and the head's review and visit to closing.
    async fn close_approved(
        &self,
        id: &str,
        approvals: &[(&str, u32)],
        promised_fen: i64,
    ) -> anyhow::Result<Value> {
        for (approver, decision) in approvals {
            self.ok(
                approver,
                id,
                json!({"action": "approve", "decision": decision}),
            )
            .await?;
        }
        let amount_fen = promised_fen;
        self.ok("director", id, json!({"action": "approve_penalty"}))
            .await?;
        self.ok("sales", id, json!({"action": "communicate", "result": "客户接受赔偿方案", "promised_fen": amount_fen})).await?;
        self.ok("head", id, json!({"action": "head_review"}))
            .await?;
        self.ok(
            "head",
            id,
            json!({"action": "record_head_visit", "visitor": "部长亲自拜访"}),
        )
        .await?;
        self.ok("gmo", id, json!({"action": "close"})).await
    }
}
