//! Deadline alerts: from the deadlines the rules already compute, which reminders and
//! escalations are due at a business time, by an escalation ladder per kind of deadline.
//! Pure: deadlines, ladders and `now` in; alerts out, each with a key that names it for good
//! (the same deadline, rung and limit always give the same key, so it is sent once).

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::complaint::Department;

/// The kinds of deadline that are watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineKind {
    /// A department's step of a complaint: one day, production two (§4.7.2).
    Step,
    /// A whole complaint case: six days from acceptance (§4.7.1).
    Case,
    /// The investigation report to the GM: three days (§4.6.3).
    Report,
    /// The GM office's review of last month's closed cases, before the 10th (§4.8.1).
    MonthlyReview,
    /// A repair past its promised date or reported late: marketing tells the customer (§2.7).
    LateRepair,
    /// A request not dispatched on its day: the factory director's priority the next (§2.8).
    PriorityDispatch,
    /// Severe feedback: the written report to the department head, early (§3.3).
    SevereFeedback,
}

pub const ALL_KINDS: [DeadlineKind; 7] = [
    DeadlineKind::Step,
    DeadlineKind::Case,
    DeadlineKind::Report,
    DeadlineKind::MonthlyReview,
    DeadlineKind::LateRepair,
    DeadlineKind::PriorityDispatch,
    DeadlineKind::SevereFeedback,
];

impl DeadlineKind {
    pub fn code(self) -> &'static str {
        match self {
            DeadlineKind::Step => "step",
            DeadlineKind::Case => "case",
            DeadlineKind::Report => "report",
            DeadlineKind::MonthlyReview => "monthly_review",
            DeadlineKind::LateRepair => "late_repair",
            DeadlineKind::PriorityDispatch => "priority_dispatch",
            DeadlineKind::SevereFeedback => "severe_feedback",
        }
    }

    pub fn parse(code: &str) -> Option<DeadlineKind> {
        ALL_KINDS.into_iter().find(|k| k.code() == code)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            DeadlineKind::Step => "投诉处理步骤(§4.7.2)",
            DeadlineKind::Case => "投诉结案(§4.7.1)",
            DeadlineKind::Report => "调查报告(§4.6.3)",
            DeadlineKind::MonthlyReview => "月度检讨(§4.8.1)",
            DeadlineKind::LateRepair => "修复延期告知客户(§2.7)",
            DeadlineKind::PriorityDispatch => "次日优先派工(§2.8)",
            DeadlineKind::SevereFeedback => "严重意见书面报告(§3.3)",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            DeadlineKind::Step => "Complaint step (§4.7.2)",
            DeadlineKind::Case => "Case closing (§4.7.1)",
            DeadlineKind::Report => "Investigation report (§4.6.3)",
            DeadlineKind::MonthlyReview => "Monthly review (§4.8.1)",
            DeadlineKind::LateRepair => "Late repair: tell the customer (§2.7)",
            DeadlineKind::PriorityDispatch => "Next-day priority dispatch (§2.8)",
            DeadlineKind::SevereFeedback => "Written report of severe feedback (§3.3)",
        }
    }

    /// The ladder that follows the regulation out of the box.
    pub fn default_ladder(self) -> Vec<Rung> {
        use Audience::*;
        let rung = |when, to| Rung { when, to };
        match self {
            // Half the day gone, two hours left, the limit (the head), a day late (GM office).
            DeadlineKind::Step => vec![
                rung(When::Share { percent: 50 }, Acting),
                rung(When::Before { minutes: 120 }, Acting),
                rung(When::After { minutes: 0 }, Head),
                rung(When::After { minutes: 1440 }, GmOffice),
            ],
            // The GM office tracks every case: a day before, and the general manager at the limit.
            DeadlineKind::Case => vec![
                rung(When::Before { minutes: 1440 }, Acting),
                rung(When::After { minutes: 0 }, Head),
            ],
            DeadlineKind::Report => vec![
                rung(When::Share { percent: 50 }, Acting),
                rung(When::Before { minutes: 240 }, Acting),
                rung(When::After { minutes: 0 }, GmOffice),
            ],
            DeadlineKind::MonthlyReview => vec![
                rung(When::Before { minutes: 2 * 1440 }, Acting),
                rung(When::Before { minutes: 480 }, Acting),
                rung(When::After { minutes: 0 }, Head),
            ],
            // At once (the first moment of the deadline), and the head at the limit.
            DeadlineKind::LateRepair | DeadlineKind::SevereFeedback => vec![
                rung(When::Share { percent: 1 }, Acting),
                rung(When::After { minutes: 0 }, Head),
            ],
            // Two hours before the day ends, and the next morning's priority.
            DeadlineKind::PriorityDispatch => vec![
                rung(When::Before { minutes: 120 }, Acting),
                rung(When::After { minutes: 0 }, Acting),
            ],
        }
    }
}

/// When a rung fires, relative to a deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", tag = "when")]
pub enum When {
    /// When this share of the time from the start to the limit has gone.
    Share { percent: u32 },
    /// This many minutes before the limit.
    Before { minutes: u32 },
    /// This many minutes after the limit (0: at the limit).
    After { minutes: u32 },
}

/// Who a rung tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// The department that must act.
    Acting,
    /// That department's head.
    Head,
    /// The GM office (总经理室), which tracks every case's deadlines (§4.2).
    GmOffice,
}

impl Audience {
    pub fn label_zh(self) -> &'static str {
        match self {
            Audience::Acting => "经办部门",
            Audience::Head => "部门负责人",
            Audience::GmOffice => "总经理室",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Audience::Acting => "The acting department",
            Audience::Head => "The department's head",
            Audience::GmOffice => "The GM office",
        }
    }
}

/// Who must act on a deadline: a department, or whoever dispatches service work (§2.2, §2.8:
/// the factory director; `FIELDLOOP_DISPATCHERS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Desk {
    Dept(Department),
    Dispatch,
}

impl Desk {
    pub fn label_zh(self) -> &'static str {
        match self {
            Desk::Dept(d) => d.label_zh(),
            Desk::Dispatch => "厂长(派工)",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Desk::Dept(d) => d.label_en(),
            Desk::Dispatch => "The factory director (dispatch)",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Rung {
    #[serde(flatten)]
    pub when: When,
    pub to: Audience,
}

/// A ladder an admin may save: 1 to 8 rungs, shares of 1 to 99 %, offsets of at most 30 days.
/// A refusal is said in English and in Chinese.
pub fn check_ladder(rungs: &[Rung]) -> Result<(), (String, String)> {
    if rungs.is_empty() || rungs.len() > 8 {
        return Err((
            "a ladder has 1 to 8 rungs".into(),
            "每种期限的提醒规则为 1 到 8 级".into(),
        ));
    }
    for r in rungs {
        match r.when {
            When::Share { percent } if !(1..=99).contains(&percent) => {
                return Err((
                    format!("a share of the time is 1 to 99 percent, not {percent}"),
                    format!("时限过去的比例须为 1% 到 99%,不能是 {percent}%"),
                ));
            }
            When::Before { minutes } | When::After { minutes } if minutes > 30 * 1440 => {
                return Err((
                    format!("an offset is at most 30 days (43200 minutes), not {minutes}"),
                    format!("提前或逾期最多 30 天(43200 分钟),不能是 {minutes} 分钟"),
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Something due: what, for whom, from when, until when.
#[derive(Debug, Clone, PartialEq)]
pub struct Deadline {
    pub kind: DeadlineKind,
    /// What is due, stable across reads (a case id and its step, a month).
    pub subject: String,
    /// What people call it: the case number, or the month.
    pub number: String,
    /// What must be done, in Chinese and in English.
    pub what_zh: String,
    pub what_en: String,
    /// Who must act.
    pub desk: Desk,
    pub started_at: DateTime<Utc>,
    /// The limit: due before this instant.
    pub due_at: DateTime<Utc>,
    /// The back-office page to open (a path).
    pub link: String,
}

impl Deadline {
    /// The last day allowed, in the company's zone (the day before the limit's midnight).
    pub fn last_day(&self, tz: Tz) -> NaiveDate {
        (self.due_at - Duration::seconds(1))
            .with_timezone(&tz)
            .date_naive()
    }
}

/// When `rung` fires for `deadline`.
pub fn fires_at(deadline: &Deadline, rung: &Rung) -> DateTime<Utc> {
    match rung.when {
        When::Share { percent } => {
            let span = deadline.due_at - deadline.started_at;
            deadline.started_at + span * i32::try_from(percent).unwrap_or(50) / 100
        }
        When::Before { minutes } => deadline.due_at - Duration::minutes(i64::from(minutes)),
        When::After { minutes } => deadline.due_at + Duration::minutes(i64::from(minutes)),
    }
}

/// One reminder or escalation, due now.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Names this alert for good: kind, subject, limit and rung.
    pub key: String,
    pub deadline: Deadline,
    pub rung: usize,
    pub to: Audience,
    pub fires_at: DateTime<Utc>,
    /// Whether the limit has passed.
    pub overdue: bool,
}

/// The alerts whose moment has come at `now`, oldest first. A rung that fires before its
/// deadline started (a short step with a long reminder) fires at the start instead.
pub fn due(
    deadlines: &[Deadline],
    ladders: &HashMap<DeadlineKind, Vec<Rung>>,
    now: DateTime<Utc>,
) -> Vec<Alert> {
    let mut out = Vec::new();
    for d in deadlines {
        let default;
        let rungs = match ladders.get(&d.kind) {
            Some(r) => r,
            None => {
                default = d.kind.default_ladder();
                &default
            }
        };
        for (i, rung) in rungs.iter().enumerate() {
            let at = fires_at(d, rung).max(d.started_at);
            if at <= now {
                out.push(Alert {
                    key: format!(
                        "{}:{}:{}:{}",
                        d.kind.code(),
                        d.subject,
                        d.due_at.timestamp(),
                        i
                    ),
                    deadline: d.clone(),
                    rung: i,
                    to: rung.to,
                    fires_at: at,
                    overdue: now >= d.due_at,
                });
            }
        }
    }
    out.sort_by(|a, b| a.fires_at.cmp(&b.fires_at).then(a.key.cmp(&b.key)));
    out
}

/// The message of an alert, in Chinese: a title, and lines with the number, what is due, the
/// last day allowed (and days left or late), who must act, and the link.
pub fn message_zh(alert: &Alert, tz: Tz, now: DateTime<Utc>, base_url: &str) -> (String, String) {
    let d = &alert.deadline;
    let last_day = d.last_day(tz);
    let today = now.with_timezone(&tz).date_naive();
    let days = (last_day - today).num_days();
    // Late by whole days since the limit: "past the limit" within the first day.
    let late_days = (now - d.due_at).num_days();
    let state = if alert.overdue && late_days == 0 {
        "已过期限".to_string()
    } else if alert.overdue {
        format!("已逾期 {late_days} 天")
    } else if days == 0 {
        "今天到期".to_string()
    } else {
        format!("还剩 {days} 天")
    };
    let title = if alert.overdue {
        format!("【逾期】{} {}", d.number, d.what_zh)
    } else {
        format!("【提醒】{} {}", d.number, d.what_zh)
    };
    let text = format!(
        "{title}\n编号:{}\n事项:{}({})\n最后期限:{}({state})\n须办理:{}\n通知对象:{}\n查看:{}{}",
        d.number,
        d.what_zh,
        d.kind.label_zh(),
        last_day.format("%Y-%m-%d"),
        d.desk.label_zh(),
        alert.to.label_zh(),
        base_url.trim_end_matches('/'),
        d.link,
    );
    (title, text)
}

/// The same alert in English, for the bell of someone who reads the pages in English (the
/// chat groups and mail get the Chinese).
pub fn message_en(alert: &Alert, tz: Tz, now: DateTime<Utc>, base_url: &str) -> (String, String) {
    let d = &alert.deadline;
    let last_day = d.last_day(tz);
    let days = (last_day - now.with_timezone(&tz).date_naive()).num_days();
    let late_days = (now - d.due_at).num_days();
    let state = match (alert.overdue, late_days, days) {
        (true, 0, _) => "past the limit".to_string(),
        (true, 1, _) => "1 day late".to_string(),
        (true, n, _) => format!("{n} days late"),
        (false, _, 0) => "due today".to_string(),
        (false, _, 1) => "1 day left".to_string(),
        (false, _, n) => format!("{n} days left"),
    };
    let tag = if alert.overdue { "Overdue" } else { "Reminder" };
    let title = format!("[{tag}] {} {}", d.number, d.what_en);
    let text = format!(
        "{title}\nNumber: {}\nTask: {} ({})\nLast day: {} ({state})\nActs: {}\nTold: {}\nOpen: {}{}",
        d.number,
        d.what_en,
        d.kind.label_en(),
        last_day.format("%Y-%m-%d"),
        d.desk.label_en(),
        alert.to.label_en(),
        base_url.trim_end_matches('/'),
        d.link,
    );
    (title, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.to_utc())
            .unwrap_or_default()
    }

    fn step() -> Deadline {
        Deadline {
            kind: DeadlineKind::Step,
            subject: "case-1:countermeasure".into(),
            number: "2026-11-0001".into(),
            what_zh: "处理对策".into(),
            what_en: "Countermeasure".into(),
            desk: Desk::Dept(Department::Production),
            started_at: at("2026-11-03T15:00:00+08:00"),
            due_at: at("2026-11-06T00:00:00+08:00"),
            link: "/web/complaints/case-1".into(),
        }
    }

    #[test]
    fn the_default_ladder_fires_each_rung_at_its_moment() {
        let d = step();
        let ladders = HashMap::new();
        let keys = |now: &str| -> Vec<usize> {
            due(std::slice::from_ref(&d), &ladders, at(now))
                .iter()
                .map(|a| a.rung)
                .collect()
        };
        // Started 3 Nov 15:00, due 6 Nov 00:00 (57 h): half gone at 4 Nov 19:30.
        assert_eq!(keys("2026-11-04T19:29:59+08:00"), Vec::<usize>::new());
        assert_eq!(keys("2026-11-04T19:30:00+08:00"), vec![0]);
        assert_eq!(keys("2026-11-05T21:59:59+08:00"), vec![0]);
        assert_eq!(keys("2026-11-05T22:00:00+08:00"), vec![0, 1]);
        assert_eq!(keys("2026-11-06T00:00:00+08:00"), vec![0, 1, 2]);
        assert_eq!(keys("2026-11-07T00:00:00+08:00"), vec![0, 1, 2, 3]);
        let alerts = due(
            std::slice::from_ref(&d),
            &ladders,
            at("2026-11-07T00:00:00+08:00"),
        );
        assert_eq!(alerts[2].to, Audience::Head);
        assert_eq!(alerts[3].to, Audience::GmOffice);
        assert!(alerts[3].overdue);
        // The same deadline and rung always give the same key.
        let again = due(&[d], &ladders, at("2026-11-08T00:00:00+08:00"));
        assert_eq!(alerts[0].key, again[0].key);
    }

    #[test]
    fn a_reminder_before_the_start_fires_at_the_start() {
        let mut d = step();
        d.due_at = d.started_at + Duration::hours(1);
        let alerts = due(&[d.clone()], &HashMap::new(), d.started_at);
        assert_eq!(
            alerts.len(),
            1,
            "two hours before a one-hour step: at its start"
        );
        assert_eq!(alerts[0].fires_at, d.started_at);
    }

    #[test]
    fn the_message_names_number_what_last_day_and_who() {
        let d = step();
        let alerts = due(&[d], &HashMap::new(), at("2026-11-05T22:00:00+08:00"));
        let (title, text) = message_zh(
            &alerts[1],
            chrono_tz::Asia::Shanghai,
            at("2026-11-05T22:00:00+08:00"),
            "https://fieldloop.example.com/",
        );
        assert_eq!(title, "【提醒】2026-11-0001 处理对策");
        assert!(text.contains("最后期限:2026-11-05(今天到期)"), "{text}");
        assert!(text.contains("须办理:生产部"), "{text}");
        assert!(
            text.contains("查看:https://fieldloop.example.com/web/complaints/case-1"),
            "{text}"
        );
    }

    #[test]
    fn ladders_out_of_bounds_are_refused() {
        let rung = |when| Rung {
            when,
            to: Audience::Acting,
        };
        assert!(check_ladder(&[]).is_err());
        assert!(check_ladder(&[rung(When::Share { percent: 0 })]).is_err());
        assert!(check_ladder(&[rung(When::Share { percent: 100 })]).is_err());
        assert!(
            check_ladder(&[rung(When::After {
                minutes: 30 * 1440 + 1
            })])
            .is_err()
        );
        assert!(check_ladder(&[rung(When::After { minutes: 0 }); 9]).is_err());
        for kind in ALL_KINDS {
            assert!(check_ladder(&kind.default_ladder()).is_ok());
        }
    }
}
