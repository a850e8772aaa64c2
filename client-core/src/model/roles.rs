//! People and places (SPEC.md "People and places"): the roles users hold and what each role may
//! write on a device.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use super::fields::Writer;

/// A user's role. One role per account; a person with two jobs has two accounts.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 技术人员
    Technician,
    /// 市场部内勤 / 办事处服务组
    Clerk,
    /// 业务人员
    Salesperson,
    /// 市场部部长
    MarketingHead,
    /// 厂长
    FactoryDirector,
    /// 品质部
    Quality,
    /// 质检员
    QcInspector,
    /// 生产部 / 生产管理组
    Production,
    /// 研发部. Written `rnd` everywhere (the API once said `rn_d`, still read).
    #[serde(rename = "rnd", alias = "rn_d")]
    RnD,
    /// 总经理室
    GmOffice,
    /// 总经理
    GeneralManager,
    /// 董事长
    Chairman,
    /// 财务部
    Finance,
    /// 货仓 / 成品仓
    Warehouse,
    /// Keeps accounts and devices; sees everything.
    Admin,
}

pub const ALL_ROLES: &[Role] = &[
    Role::Technician,
    Role::Clerk,
    Role::Salesperson,
    Role::MarketingHead,
    Role::FactoryDirector,
    Role::Quality,
    Role::QcInspector,
    Role::Production,
    Role::RnD,
    Role::GmOffice,
    Role::GeneralManager,
    Role::Chairman,
    Role::Finance,
    Role::Warehouse,
    Role::Admin,
];

impl Role {
    pub fn code(self) -> &'static str {
        match self {
            Role::Technician => "technician",
            Role::Clerk => "clerk",
            Role::Salesperson => "salesperson",
            Role::MarketingHead => "marketing_head",
            Role::FactoryDirector => "factory_director",
            Role::Quality => "quality",
            Role::QcInspector => "qc_inspector",
            Role::Production => "production",
            Role::RnD => "rnd",
            Role::GmOffice => "gm_office",
            Role::GeneralManager => "general_manager",
            Role::Chairman => "chairman",
            Role::Finance => "finance",
            Role::Warehouse => "warehouse",
            Role::Admin => "admin",
        }
    }

    /// The role's name in Chinese, as the regulation says it.
    pub fn label_zh(self) -> &'static str {
        match self {
            Role::Technician => "技术人员",
            Role::Clerk => "市场部内勤",
            Role::Salesperson => "业务人员",
            Role::MarketingHead => "市场部部长",
            Role::FactoryDirector => "厂长",
            Role::Quality => "品质部",
            Role::QcInspector => "质检员",
            Role::Production => "生产部",
            Role::RnD => "研发部",
            Role::GmOffice => "总经理室",
            Role::GeneralManager => "总经理",
            Role::Chairman => "董事长",
            Role::Finance => "财务部",
            Role::Warehouse => "货仓",
            Role::Admin => "系统管理员",
        }
    }

    /// The role's name in English.
    pub fn label_en(self) -> &'static str {
        match self {
            Role::Technician => "technician",
            Role::Clerk => "marketing clerk",
            Role::Salesperson => "salesperson",
            Role::MarketingHead => "marketing head",
            Role::FactoryDirector => "factory director",
            Role::Quality => "quality department",
            Role::QcInspector => "QC inspector",
            Role::Production => "production department",
            Role::RnD => "R&D department",
            Role::GmOffice => "general manager's office",
            Role::GeneralManager => "general manager",
            Role::Chairman => "chairman",
            Role::Finance => "finance department",
            Role::Warehouse => "warehouse",
            Role::Admin => "administrator",
        }
    }

    /// The device writer classes this role records as.
    pub fn writes(self, writer: Writer) -> bool {
        match writer {
            Writer::Server => false,
            Writer::AnyDevice => true,
            Writer::Clerk => matches!(self, Role::Clerk | Role::MarketingHead | Role::Admin),
            Writer::Technician => matches!(self, Role::Technician | Role::Admin),
            Writer::Sales => matches!(self, Role::Salesperson | Role::MarketingHead | Role::Admin),
        }
    }
}

/// Whether `role` may create a record of `kind`, on a device or in the office: the complaint
/// handling form is filed by marketing (§4.6.1: 业务人员填写《客户投诉处理单》). Other kinds are
/// created by whoever records their first form, as the field table allows.
pub fn may_create(role: Role, kind: super::DocKind) -> bool {
    match kind {
        super::DocKind::Complaint => role.writes(Writer::Sales),
        _ => true,
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ALL_ROLES
            .iter()
            .copied()
            .find(|r| r.code() == s)
            .ok_or_else(|| format!("unknown role '{s}'"))
    }
}
