//! The complaint workflow's rules, case by case, and its properties over random action sequences.

use super::*;
use chrono::Duration;
use chrono_tz::Asia::Shanghai;
use proptest::prelude::*;

fn rules() -> Rules {
    Rules {
        tz: Shanghai,
        thresholds: Thresholds::default(),
    }
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A case filed in Wuhan at `t0` with nothing claimed, not yet accepted.
fn filed(id: u128, t0: DateTime<Utc>) -> Case {
    Case::filed(
        Uuid::from_u128(id),
        "wuhan",
        Uuid::from_u128(2),
        t0,
        0,
        false,
        None,
    )
}

fn actor(role: Role) -> Actor {
    Actor {
        user: Uuid::from_u128(role as u128 + 1),
        role,
    }
}

fn run(case: &Case, role: Role, action: Action, now: DateTime<Utc>) -> Case {
    apply(
        case,
        &action,
        actor(role),
        now,
        &rules(),
        Some("2026-11-0001"),
    )
    .unwrap_or_else(|e| panic!("{action:?}: {e}"))
}

/// A quality case from filing to closing, with an amount the general manager approves.
fn closed_case() -> Case {
    let t0 = at("2026-11-03T15:00:00+08:00");
    let mut c = Case::filed(
        Uuid::from_u128(1),
        "wuhan",
        Uuid::from_u128(2),
        t0,
        300_000,
        false,
        None,
    );
    c = run(&c, Role::Quality, Action::Accept, t0);
    assert_eq!(c.number.as_deref(), Some("2026-11-0001"));
    assert_eq!(c.due_at, Some(at("2026-11-10T00:00:00+08:00")));
    c = run(
        &c,
        Role::Salesperson,
        Action::Investigate {
            findings: "cracked weld".into(),
            joint_visit: true,
        },
        t0,
    );
    c = run(
        &c,
        Role::Quality,
        Action::SubmitReport {
            text: "report".into(),
        },
        t0,
    );
    c = run(
        &c,
        Role::Quality,
        Action::Determine {
            cause_class: CauseClass::Quality,
            valid: true,
            fault_ours: true,
            responsible_department: Some(Department::Production),
            note: String::new(),
        },
        t0,
    );
    assert_eq!(c.current_step().unwrap().kind, StepKind::Countermeasure);
    assert_eq!(
        c.current_step().unwrap().due_at,
        at("2026-11-06T00:00:00+08:00")
    );
    c = run(
        &c,
        Role::Production,
        Action::ProductionReport {
            workshop: "welding".into(),
            shift: "B".into(),
            operators: "Zhao".into(),
            production_date: NaiveDate::from_ymd_opt(2026, 9, 1).unwrap(),
            countermeasure: "new fixture".into(),
        },
        t0,
    );
    c = run(
        &c,
        Role::RnD,
        Action::RndOpinion {
            text: "agree".into(),
        },
        t0,
    );
    c = run(
        &c,
        Role::GmOffice,
        Action::Consolidate {
            text: "compensate".into(),
            remedy: "replace the frame".into(),
            track_improvement: true,
            human_error: false,
            loss_fen: 300_000,
            penalty: Some(" warning,\n\tdocked pay ".into()),
        },
        t0,
    );
    assert_eq!(
        c.decision.as_ref().and_then(|d| d.penalty.as_deref()),
        Some("warning, docked pay"),
        "a penalty is one line of the personnel notice"
    );
    c = run(
        &c,
        Role::Salesperson,
        Action::ProposeAmount {
            kind: MoneyKind::Compensation,
            amount_fen: 300_000,
            quantity: None,
        },
        t0,
    );
    c = run(
        &c,
        Role::GeneralManager,
        Action::Approve { decision: 1 },
        t0,
    );
    c = run(&c, Role::FactoryDirector, Action::ApprovePenalty, t0);
    c = run(
        &c,
        Role::Salesperson,
        Action::Communicate {
            result: "accepted".into(),
            promised_fen: Some(300_000),
        },
        t0,
    );
    c = run(
        &c,
        Role::MarketingHead,
        Action::HeadReview {
            note: String::new(),
        },
        t0,
    );
    c = run(
        &c,
        Role::MarketingHead,
        Action::RecordHeadVisit {
            visitor: "head in person".into(),
        },
        t0,
    );
    run(&c, Role::GmOffice, Action::Close, t0)
}

#[test]
fn a_case_runs_to_close() {
    let c = closed_case();
    assert_eq!(c.state, CaseState::Closed);
    assert_eq!(c.distribution.len(), 5);
    // Anything on a closed case is refused.
    let err = apply(
        &c,
        &Action::Petition { text: "x".into() },
        actor(Role::Production),
        at("2026-11-20T10:00:00+08:00"),
        &rules(),
        None,
    );
    assert_eq!(err.unwrap_err(), WorkflowError::Closed);
}

#[test]
fn a_qc_inspector_does_not_accept_complaints() {
    let t0 = at("2026-11-03T15:00:00+08:00");
    let c = filed(1, t0);
    let err = apply(
        &c,
        &Action::Accept,
        actor(Role::QcInspector),
        t0,
        &rules(),
        Some("2026-11-0001"),
    );
    assert_eq!(err.unwrap_err().code().as_str(), "wrong_department");
}

#[test]
fn split_amounts_need_the_authority_of_their_total() {
    let t0 = at("2026-11-03T15:00:00+08:00");
    let accepted = |id: u128| run(&filed(id, t0), Role::Quality, Action::Accept, t0);
    let mut c = accepted(1);
    let propose = |c: &Case, fen: i64| {
        run(
            c,
            Role::Salesperson,
            Action::ProposeAmount {
                kind: MoneyKind::Compensation,
                amount_fen: fen,
                quantity: None,
            },
            t0,
        )
    };
    // 3,000.00 alone: the general manager. A second 2,000.00 brings the case to 5,000.00:
    // the chairman, although 2,000.00 alone would be the general manager's.
    c = propose(&c, 300_000);
    c = propose(&c, 200_000);
    assert_eq!(c.money[0].required, ApprovalLevel::GeneralManager);
    assert_eq!(c.money[1].required, ApprovalLevel::Chairman);
    // The refusal in people's words: yuan, the limit, who decides, the section; no code.
    let refused = apply(
        &c,
        &Action::Approve { decision: 1 },
        actor(Role::MarketingHead),
        t0,
        &rules(),
        None,
    )
    .unwrap_err();
    assert_eq!(
        refused.message_zh().as_deref(),
        Some("3,000.00 元超出市场部部长审批权限(1,000.00 元以内),需总经理核决(§4.7.3)")
    );
    assert_eq!(
        refused.to_string(),
        "¥3,000.00 needs the general manager's approval (总经理核决); a marketing head approves up to ¥1,000.00 (§4.7.3)"
    );
    let by_sales = apply(
        &c,
        &Action::Approve { decision: 1 },
        actor(Role::Salesperson),
        t0,
        &rules(),
        None,
    )
    .unwrap_err();
    assert_eq!(
        by_sales.message_zh().as_deref(),
        Some("3,000.00 元需总经理核决(§4.7.3),业务人员无金额审批权限")
    );
    c = run(
        &c,
        Role::GeneralManager,
        Action::Approve { decision: 1 },
        t0,
    );
    let refused = apply(
        &c,
        &Action::Approve { decision: 2 },
        actor(Role::GeneralManager),
        t0,
        &rules(),
        None,
    );
    assert_eq!(refused.unwrap_err().code().as_str(), "above_authority");
    c = run(&c, Role::Chairman, Action::Approve { decision: 2 }, t0);
    // What may be promised is what was approved in all.
    assert_eq!(c.approved_ceiling(&rules().thresholds), 500_000);
    // 1,000.00 in two parts stays with marketing; one fen more does not.
    let mut small = accepted(3);
    small = propose(&small, 60_000);
    small = propose(&small, 40_000);
    small = propose(&small, 1);
    let levels: Vec<_> = small.money.iter().map(|m| m.required).collect();
    assert_eq!(
        levels,
        [
            ApprovalLevel::Marketing,
            ApprovalLevel::Marketing,
            ApprovalLevel::GeneralManager
        ]
    );
    // Amounts that would wrap round when added up are refused, not read as small.
    let huge = propose(&accepted(4), i64::MAX);
    let wrapped = apply(
        &huge,
        &Action::ProposeAmount {
            kind: MoneyKind::Compensation,
            amount_fen: 2,
            quantity: None,
        },
        actor(Role::Salesperson),
        t0,
        &rules(),
        None,
    );
    assert_eq!(wrapped.unwrap_err().code().as_str(), "invalid_input");
}

#[test]
fn a_loss_amount_alone_waits_for_the_factory_director() {
    let waits = |c: &Case| {
        close_blockers(c)
            .iter()
            .any(|m| m.contains("factory director"))
    };
    let mut c = closed_case();
    let d = c.decision.as_mut().unwrap();
    d.penalty = None;
    d.penalty_approved_by = None;
    assert!(
        waits(&c),
        "a loss of 3,000.00 without a penalty still needs him"
    );
    c.decision.as_mut().unwrap().loss_fen = 0;
    assert!(
        !waits(&c),
        "neither a loss nor a penalty: nothing to approve"
    );
    c.decision.as_mut().unwrap().penalty = Some("warning".into());
    assert!(waits(&c));
    c.decision.as_mut().unwrap().penalty_approved_by = Some(Uuid::from_u128(9));
    assert!(!waits(&c));
}

#[test]
fn wrong_department_second_number_and_promise_above_authority_are_refused() {
    let t0 = at("2026-11-03T15:00:00+08:00");
    let c = filed(1, t0);
    // Tried: acceptance by sales, a step before acceptance, a second number.
    assert_eq!(
        apply(
            &c,
            &Action::Accept,
            actor(Role::Salesperson),
            t0,
            &rules(),
            Some("n")
        )
        .unwrap_err()
        .code()
        .as_str(),
        "wrong_department"
    );
    assert_eq!(
        apply(
            &c,
            &Action::Close,
            actor(Role::GmOffice),
            t0,
            &rules(),
            None
        )
        .unwrap_err()
        .code()
        .as_str(),
        "not_accepted"
    );
    let c = run(&c, Role::Quality, Action::Accept, t0);
    assert_eq!(
        apply(
            &c,
            &Action::Accept,
            actor(Role::Quality),
            t0,
            &rules(),
            Some("x")
        )
        .unwrap_err()
        .code()
        .as_str(),
        "already_numbered"
    );
    // Approval above authority, and a negative amount.
    let c = run(
        &c,
        Role::Salesperson,
        Action::ProposeAmount {
            kind: MoneyKind::Allowance,
            amount_fen: 100_001,
            quantity: None,
        },
        t0,
    );
    assert_eq!(
        apply(
            &c,
            &Action::Approve { decision: 1 },
            actor(Role::MarketingHead),
            t0,
            &rules(),
            None
        )
        .unwrap_err()
        .code()
        .as_str(),
        "above_authority"
    );
    assert!(
        apply(
            &c,
            &Action::ProposeAmount {
                kind: MoneyKind::Allowance,
                amount_fen: -1,
                quantity: None,
            },
            actor(Role::Salesperson),
            t0,
            &rules(),
            None
        )
        .is_err()
    );
}

#[test]
fn steps_are_overdue_exactly_when_due() {
    let t0 = at("2026-11-03T15:00:00+08:00");
    let c = filed(1, t0);
    let c = run(&c, Role::Quality, Action::Accept, t0);
    // Investigation: 1 day, due 24:00 on 4 Nov.
    assert!(c.overdue(at("2026-11-04T23:59:59+08:00")).is_empty());
    assert_eq!(c.overdue(at("2026-11-05T00:00:00+08:00")).len(), 1);
    // The whole case: 6 days, due 24:00 on 9 Nov.
    let all = c.overdue(at("2026-11-10T00:00:00+08:00"));
    assert!(
        all.iter()
            .any(|(step, d, _)| step.is_none() && *d == Department::GmOffice)
    );
}

const ROLES: &[Role] = &[
    Role::Salesperson,
    Role::MarketingHead,
    Role::Quality,
    Role::Production,
    Role::RnD,
    Role::GmOffice,
    Role::GeneralManager,
    Role::Chairman,
    Role::FactoryDirector,
];

fn action(i: u8, amount: i64, decision: u32) -> Action {
    match i % 14 {
        0 => Action::Accept,
        1 => Action::Investigate {
            findings: "f".into(),
            joint_visit: false,
        },
        2 => Action::SubmitReport { text: "r".into() },
        3 => Action::Determine {
            cause_class: if amount % 2 == 0 {
                CauseClass::Quality
            } else {
                CauseClass::NonQuality
            },
            valid: amount % 3 != 0,
            fault_ours: true,
            responsible_department: Some(Department::Production),
            note: String::new(),
        },
        4 => Action::ProductionReport {
            workshop: "w".into(),
            shift: "s".into(),
            operators: "o".into(),
            production_date: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            countermeasure: "c".into(),
        },
        5 => Action::RndOpinion { text: "r".into() },
        6 => Action::Consolidate {
            text: "t".into(),
            remedy: "r".into(),
            track_improvement: true,
            human_error: false,
            loss_fen: 0,
            penalty: None,
        },
        7 => Action::ProposeAmount {
            kind: MoneyKind::Compensation,
            amount_fen: amount,
            quantity: None,
        },
        8 => Action::Approve { decision },
        9 => Action::Communicate {
            result: "ok".into(),
            promised_fen: Some(amount),
        },
        10 => Action::HeadReview {
            note: String::new(),
        },
        11 => Action::RecordHeadVisit {
            visitor: "v".into(),
        },
        12 => Action::Close,
        _ => Action::Petition { text: "p".into() },
    }
}

proptest! {
    #[test]
    fn invariants_hold_over_random_sequences(
        events in proptest::collection::vec((0u8..14, 0usize..9, 1i64..800_000, 1u32..4, 0i64..200_000), 1..80)
    ) {
        let mut now = at("2026-11-30T20:00:00+08:00");
        let mut serial = 0;
        let mut numbers = Vec::new();
        let mut case = Case::filed(Uuid::from_u128(1), "r", Uuid::from_u128(2), now, 0, false, None);
        for (a, r, amount, decision, dt) in events {
            now += Duration::seconds(dt);
            let number = format!("n{}", serial + 1);
            let before = case.clone();
            match apply(&case, &action(a, amount, decision), actor(ROLES[r]), now, &rules(), Some(&number)) {
                Ok(next) => {
                    if next.number != before.number {
                        serial += 1;
                        numbers.push(next.number.clone().unwrap());
                    }
                    // Deadlines never move.
                    if let Some(due) = before.due_at { prop_assert_eq!(next.due_at, Some(due)); }
                    for (old, new) in before.steps.iter().zip(&next.steps) {
                        prop_assert_eq!(old.due_at, new.due_at);
                    }
                    case = next;
                }
                Err(_) => prop_assert_eq!(&case, &before),
            }
            if case.state == CaseState::Closed {
                prop_assert!(case.cause_class.is_some() && case.responsibility.is_some());
                for m in &case.money {
                    prop_assert!(m.approved_level.is_some_and(|l| l >= m.required));
                    prop_assert!(Thresholds::default().required(m.amount_fen) <= m.approved_level.unwrap());
                }
                if let Some(p) = case.promised_fen {
                    let approved = case.money.iter().map(|m| m.amount_fen).max().unwrap_or(0);
                    prop_assert!(p <= approved.max(Thresholds::default().marketing_max_fen));
                }
            }
        }
        prop_assert!(numbers.len() <= 1, "a case is numbered once");
    }
}

#[test]
fn one_shot_records_are_done_once() {
    let t0 = at("2026-11-03T09:00:00+08:00");
    let c = run(&filed(7, t0), Role::Quality, Action::Accept, t0);
    let visit = || Action::RecordHeadVisit {
        visitor: "head in person".into(),
    };
    let c = run(&c, Role::MarketingHead, visit(), t0);
    let again = apply(&c, &visit(), actor(Role::MarketingHead), t0, &rules(), None);
    assert!(
        matches!(again, Err(WorkflowError::AlreadyDone(_))),
        "{again:?}"
    );
    let c = run(&c, Role::Salesperson, Action::WrittenReportToHead, t0);
    let again = apply(
        &c,
        &Action::WrittenReportToHead,
        actor(Role::Salesperson),
        t0,
        &rules(),
        None,
    );
    assert_eq!(again.unwrap_err().code(), ErrorCode::AlreadyDone);
}

/// Bad input to a step is refused in Chinese as well as in English: an empty finding, a
/// negative loss, an amount of nothing, a second company (tried each).
#[test]
fn refusals_have_their_chinese_words() {
    let t0 = at("2026-11-03T09:00:00+08:00");
    let c = run(&filed(7, t0), Role::Quality, Action::Accept, t0);
    let refused = |c: &Case, role: Role, action: Action| {
        apply(c, &action, actor(role), t0, &rules(), None).expect_err("refused")
    };
    let empty = refused(
        &c,
        Role::MarketingHead,
        Action::RecordHeadVisit {
            visitor: "  ".into(),
        },
    );
    assert_eq!(empty.code(), ErrorCode::InvalidInput);
    assert_eq!(empty.message_zh().as_deref(), Some("请填写拜访人"));
    let c = run(
        &c,
        Role::GmOffice,
        Action::InvolveExternal {
            party: "某供应商".into(),
        },
        t0,
    );
    let twice = refused(
        &c,
        Role::GmOffice,
        Action::InvolveExternal {
            party: "另一家".into(),
        },
    );
    assert_eq!(twice.code(), ErrorCode::AlreadyDone);
    assert_eq!(c.external_party.as_deref(), Some("某供应商"));
    for e in [empty, twice] {
        let zh = e.message_zh().unwrap_or_default();
        assert!(
            !zh.chars().any(|ch| ch.is_ascii_alphabetic()),
            "no English in the Chinese refusal: {zh}"
        );
    }
}
