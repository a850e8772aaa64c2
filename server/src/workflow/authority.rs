//! Approval authority by amount (§4.7.3, §4.6.9).
//!
//! "1000元以内" marketing, "1000-5000元" the general manager, "5000元以上" the chairman. Chinese
//! law reads 以内 and 以上 as including the amount named (Civil Code art. 1259), so:
//! 1,000.00 and less: marketing; more than 1,000 and less than 5,000: the general manager;
//! 5,000.00 and more: the chairman. The thresholds are company configuration.

use fieldloop_client_core::model::Role;
use serde::{Deserialize, Serialize};

/// The levels that approve money decisions, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalLevel {
    /// 市场部 (the marketing head decides)
    Marketing,
    /// 总经理
    GeneralManager,
    /// 董事长
    Chairman,
}

impl ApprovalLevel {
    pub fn code(self) -> &'static str {
        match self {
            ApprovalLevel::Marketing => "marketing",
            ApprovalLevel::GeneralManager => "general_manager",
            ApprovalLevel::Chairman => "chairman",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            ApprovalLevel::Marketing => "市场部核决",
            ApprovalLevel::GeneralManager => "总经理核决",
            ApprovalLevel::Chairman => "董事长核决",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            ApprovalLevel::Marketing => "the marketing head's approval (市场部核决)",
            ApprovalLevel::GeneralManager => "the general manager's approval (总经理核决)",
            ApprovalLevel::Chairman => "the chairman's approval (董事长核决)",
        }
    }

    /// The level a role approves at, if it approves money at all.
    pub fn of_role(role: Role) -> Option<ApprovalLevel> {
        match role {
            Role::MarketingHead => Some(ApprovalLevel::Marketing),
            Role::GeneralManager => Some(ApprovalLevel::GeneralManager),
            Role::Chairman => Some(ApprovalLevel::Chairman),
            _ => None,
        }
    }
}

/// The amounts that separate the levels, in fen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Up to and including this amount: marketing. Default 1,000.00 yuan.
    pub marketing_max_fen: i64,
    /// From this amount up: the chairman. Default 5,000.00 yuan.
    pub chairman_min_fen: i64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            marketing_max_fen: 100_000,
            chairman_min_fen: 500_000,
        }
    }
}

impl Thresholds {
    /// Checks that the configuration makes sense.
    pub fn validate(&self) -> Result<(), String> {
        if self.marketing_max_fen < 0 || self.chairman_min_fen <= self.marketing_max_fen {
            Err("the chairman's threshold must be above marketing's, both not negative".into())
        } else {
            Ok(())
        }
    }

    /// The level an amount needs.
    pub fn required(&self, amount_fen: i64) -> ApprovalLevel {
        if amount_fen <= self.marketing_max_fen {
            ApprovalLevel::Marketing
        } else if amount_fen < self.chairman_min_fen {
            ApprovalLevel::GeneralManager
        } else {
            ApprovalLevel::Chairman
        }
    }

    /// May `role` approve `amount_fen`? A level approves what its own level or a lower one needs.
    pub fn may_approve(&self, role: Role, amount_fen: i64) -> bool {
        ApprovalLevel::of_role(role).is_some_and(|level| level >= self.required(amount_fen))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_follow_the_civil_code_reading() {
        let t = Thresholds::default();
        assert_eq!(t.required(100_000), ApprovalLevel::Marketing); // 1,000.00
        assert_eq!(t.required(100_001), ApprovalLevel::GeneralManager); // 1,000.01
        assert_eq!(t.required(499_999), ApprovalLevel::GeneralManager); // 4,999.99
        assert_eq!(t.required(500_000), ApprovalLevel::Chairman); // 5,000.00
        assert_eq!(t.required(0), ApprovalLevel::Marketing);
    }

    #[test]
    fn nobody_approves_above_their_level() {
        let t = Thresholds::default();
        assert!(t.may_approve(Role::MarketingHead, 100_000));
        assert!(!t.may_approve(Role::MarketingHead, 100_001));
        assert!(t.may_approve(Role::GeneralManager, 499_999));
        assert!(!t.may_approve(Role::GeneralManager, 500_000));
        assert!(t.may_approve(Role::Chairman, 500_000));
        assert!(t.may_approve(Role::Chairman, 1));
        assert!(!t.may_approve(Role::Salesperson, 1));
        assert!(!t.may_approve(Role::Admin, 1));
    }
}
