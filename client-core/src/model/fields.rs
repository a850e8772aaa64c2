//! The field table: every path a record document may hold, what values it takes, and who may
//! write it. The device checks it before writing and the server checks it on every incoming
//! change, so both sides read the same table.

use serde::{Deserialize, Serialize};

use super::DocKind;

/// Who may write a path. Device classes are the people who record things on a phone or an office
/// laptop; `Server` paths are decided by head office (numbers, dispatch, workflow, approvals) and
/// are written only by the server's own actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Writer {
    /// Office clerks (市场部内勤, 办事处服务组): registration of requests.
    Clerk,
    /// Technicians (技术人员) on site: the feedback form, fees, take-back receipts, signatures.
    Technician,
    /// Salespeople (业务人员): complaint forms.
    Sales,
    /// Any device user who may see the record (customer feedback is taken by whoever is there).
    AnyDevice,
    /// Head office decisions, written by the server only.
    Server,
}

/// Free text that a list or register shows, and so is kept in the server's projection; other
/// free text, and every growing note, is read from the document.
const PROJECTED_TEXT: &[&str] = &["request.description", "form.defect"];

/// Whether the server's projection (what lists, filters and reports query) holds this field.
pub fn projected(spec: &FieldSpec) -> bool {
    match spec.ty {
        FieldType::Notes | FieldType::Photos => false,
        FieldType::Text => PROJECTED_TEXT.contains(&spec.path),
        _ => true,
    }
}

/// The longest a `Text` field or one note entry may be, in characters.
pub const TEXT_MAX_CHARS: usize = 10_000;

/// The shape a field's value must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// A short single-line string (names, models, phone numbers).
    Short,
    /// Free text on one or several lines, kept as one string (a problem description, a defect,
    /// a comment): a later write replaces it, and two concurrent writes stay visible as a
    /// conflict. At most [`TEXT_MAX_CHARS`] characters.
    Text,
    /// A note that grows over time (diagnosis, work done): a list of entries, each one string
    /// with who wrote it and when. A write appends an entry, so two devices adding lines at
    /// once both keep theirs. Documents of schema 1 kept these, and every `Text` field, as an
    /// Automerge `Text` object; they are still read, and turned into entries when next written.
    Notes,
    /// Photos as evidence: a list of entries like a note's, each a stored JPEG (its SHA-256,
    /// size and type, uploaded before the change that refers to it), a caption, who added it
    /// and when it was taken. Added on the phone with the image, never written as a value.
    Photos,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// An instant, RFC 3339 with offset.
    Instant,
    /// Money in integer fen (1 yuan = 100 fen), never negative.
    Money,
    /// A whole count, never negative.
    Count,
    /// One of a fixed set of codes.
    Choice(&'static [&'static str]),
    /// A SHA-256 in lowercase hex (a blob reference or a digest).
    Sha256,
    /// A user or record id (UUID).
    Id,
}

impl FieldType {
    /// Kept as a list of entries (a note, photos): written by appending, never replaced.
    pub fn is_entries(self) -> bool {
        matches!(self, FieldType::Notes | FieldType::Photos)
    }
}

/// One row of the field table.
#[derive(Debug, Clone, Copy)]
pub struct FieldSpec {
    /// Dotted path below the root: `section.field`.
    pub path: &'static str,
    pub ty: FieldType,
    pub writer: Writer,
    /// Shown to people: zh-CN first, English second.
    pub label_zh: &'static str,
    pub label_en: &'static str,
}

const fn f(
    path: &'static str,
    ty: FieldType,
    writer: Writer,
    label_zh: &'static str,
    label_en: &'static str,
) -> FieldSpec {
    FieldSpec {
        path,
        ty,
        writer,
        label_zh,
        label_en,
    }
}

use FieldType::*;
use Writer::*;

/// §2.1 service categories: A paid, B contract, C free, D other.
pub const CATEGORIES: &[&str] = &["A", "B", "C", "D"];
/// §2.3/§2.5 what came of a visit.
pub const OUTCOMES: &[&str] = &["fixed_on_site", "taken_back", "another_visit"];
/// §2.4 how a paid job's fee is settled.
pub const FEE_METHODS: &[&str] = &["cash_on_site", "invoice_later"];
/// §2.2 how the request arrived.
pub const CHANNELS: &[&str] = &["phone", "letter", "on_site"];

/// The words for a code a field holds (a choice, a record's state): Chinese as the regulation
/// says it, then English. `None` for a value that is not a code (a name, a number).
pub fn code_label(code: &str) -> Option<(&'static str, &'static str)> {
    Some(match code {
        // §2.1
        "A" => ("有偿服务(A)", "Paid service (A)"),
        "B" => ("合同服务(B)", "Contract service (B)"),
        "C" => ("免费服务(C)", "Free service (C)"),
        "D" => ("其他服务(D)", "Other service (D)"),
        // §2.3, §2.5
        "fixed_on_site" => ("当场处理完妥", "Fixed on site"),
        "taken_back" => ("带回维修", "Taken back for repair"),
        "another_visit" => ("需再次前往", "Another visit needed"),
        // §2.4
        "cash_on_site" => ("当场收费", "Paid on site"),
        "invoice_later" => ("开票后收费", "Invoiced, paid later"),
        "requested" => ("待开票", "Invoice requested"),
        "issued" => ("已开票", "Invoice issued"),
        "collected" => ("已收款", "Paid"),
        // §2.2
        "phone" => ("电话", "Telephone"),
        "letter" => ("信函", "Letter"),
        "on_site" => ("来访", "In person"),
        "normal" => ("一般", "Normal"),
        "priority" => ("优先", "Priority"),
        "registered" => ("已登记", "Registered"),
        "form_logged" => ("反馈表已登记", "Form logged"),
        "archived" => ("已归档", "Archived"),
        // §2.6 where a product taken back is (custody.location)
        "with_technician" => ("技术员处", "With the technician"),
        "at_production" => ("生产部维修", "In repair at production"),
        "awaiting_qc" => ("待质检", "Waiting for QC"),
        "in_stock" => ("已入库", "In stock"),
        "returned_to_customer" => ("已交还客户", "Returned to the customer"),
        "voided" => ("收据已作废", "Receipt voided"),
        // §3, §4
        "general" => ("一般", "General"),
        "severe" => ("特别严重", "Severe"),
        "suggestion" => ("建议", "Suggestion"),
        "complaint" => ("抱怨", "Complaint"),
        "rating" => ("品评", "Rating"),
        "yes" => ("是", "Yes"),
        // a feedback item's handling (handling.state)
        "open" => ("处理中", "Open"),
        "closed" => ("已办结", "Closed"),
        _ => return None,
    })
}

/// 售后服务信息反馈表 and 售后服务记录: the service visit.
pub const VISIT_FIELDS: &[FieldSpec] = &[
    // §2.2 registration (售后服务记录)
    f(
        "request.customer_name",
        Short,
        Clerk,
        "客户名称",
        "Customer name",
    ),
    f("request.customer_address", Short, Clerk, "地址", "Address"),
    f("request.customer_phone", Short, Clerk, "电话", "Phone"),
    f(
        "request.product_name",
        Short,
        Clerk,
        "产品名称",
        "Product name",
    ),
    f("request.product_model", Short, Clerk, "型号", "Model"),
    f(
        "request.product_spec",
        Short,
        Clerk,
        "规格",
        "Specification",
    ),
    f(
        "request.product_serial",
        Short,
        Clerk,
        "出厂编号",
        "Serial number",
    ),
    f(
        "request.purchase_date",
        Date,
        Clerk,
        "购买日期",
        "Purchase date",
    ),
    f(
        "request.purchase_place",
        Short,
        Clerk,
        "购买地点",
        "Purchase place",
    ),
    f(
        "request.category",
        Choice(CATEGORIES),
        Clerk,
        "服务类别",
        "Service category",
    ),
    f(
        "request.contract_ref",
        Short,
        Clerk,
        "合同编号",
        "Contract reference",
    ),
    f(
        "request.warranty_reason",
        Short,
        Clerk,
        "保修期外免费理由",
        "Reason for free service out of warranty",
    ),
    f(
        "request.channel",
        Choice(CHANNELS),
        Clerk,
        "来源",
        "Channel",
    ),
    f(
        "request.received_at",
        Instant,
        Clerk,
        "受理时间",
        "Received at",
    ),
    f(
        "request.description",
        Text,
        Clerk,
        "客户要求",
        "Customer's request",
    ),
    f(
        "request.customer_id",
        Id,
        Clerk,
        "客户档案",
        "Customer record",
    ),
    f(
        "request.product_id",
        Id,
        Clerk,
        "产品档案",
        "Product record",
    ),
    f(
        "request.warranty_until",
        Date,
        Clerk,
        "免费保修截止",
        "Free warranty until",
    ),
    // §2.2 dispatch (派工): the factory director's decision
    f(
        "dispatch.technician",
        Id,
        Server,
        "派工技术员",
        "Assigned technician",
    ),
    f(
        "dispatch.dispatched_at",
        Instant,
        Server,
        "派工时间",
        "Dispatched at",
    ),
    f(
        "dispatch.dispatched_by",
        Id,
        Server,
        "派工人",
        "Dispatched by",
    ),
    f(
        "dispatch.priority",
        Choice(&["normal", "priority"]),
        Server,
        "优先级",
        "Priority",
    ),
    // §2.3 on site (售后服务信息反馈表)
    f(
        "form.arrived_at",
        Instant,
        Technician,
        "到达时间",
        "Arrived at",
    ),
    f(
        "form.departed_at",
        Instant,
        Technician,
        "离开时间",
        "Departed at",
    ),
    f("form.diagnosis", Notes, Technician, "故障诊断", "Diagnosis"),
    f("form.work_done", Notes, Technician, "处理情况", "Work done"),
    f("form.photos", Photos, Technician, "照片", "Photos"),
    f(
        "form.outcome",
        Choice(OUTCOMES),
        Technician,
        "处理结果",
        "Outcome",
    ),
    f(
        "form.travel_fen",
        Money,
        Technician,
        "差旅费",
        "Travel cost",
    ),
    f(
        "form.allowance_fen",
        Money,
        Technician,
        "补贴费",
        "Allowance",
    ),
    f(
        "form.parts_fen",
        Money,
        Technician,
        "更换零件费",
        "Parts cost",
    ),
    f(
        "form.repair_fen",
        Money,
        Technician,
        "维修费",
        "Repair cost",
    ),
    f(
        "form.parts_used",
        Text,
        Technician,
        "更换零件",
        "Parts used",
    ),
    // §2.4 fees
    f("fee.amount_fen", Money, Technician, "收费金额", "Fee"),
    f(
        "fee.method",
        Choice(FEE_METHODS),
        Technician,
        "收费方式",
        "Fee settlement",
    ),
    f(
        "fee.collected_at",
        Instant,
        Technician,
        "收款时间",
        "Collected at",
    ),
    // §2.3 the customer's signature on the form
    f(
        "signature.blob_sha256",
        Sha256,
        Technician,
        "签名图像",
        "Signature image",
    ),
    f(
        "signature.blob_bytes",
        Count,
        Technician,
        "签名图像大小",
        "Signature image size",
    ),
    f(
        "signature.blob_mime",
        Short,
        Technician,
        "签名图像类型",
        "Signature image type",
    ),
    f(
        "signature.signer_name",
        Short,
        Technician,
        "签字人",
        "Signed by",
    ),
    f(
        "signature.signed_at",
        Instant,
        Technician,
        "签字时间(设备)",
        "Signed at (device time)",
    ),
    f(
        "signature.signed_digest",
        Sha256,
        Technician,
        "签字内容摘要",
        "Digest of the signed fields",
    ),
    // head office's record of the voucher
    f("status.state", Short, Server, "状态", "State"),
    f("status.logged_at", Instant, Server, "登记时间", "Logged at"),
    f(
        "status.archived_at",
        Instant,
        Server,
        "归档时间",
        "Archived at",
    ),
    // §2.4 finance's side of the fee
    f(
        "billing.invoice_state",
        Choice(&["requested", "issued", "collected"]),
        Server,
        "发票状态",
        "Invoice state",
    ),
    f(
        "billing.issued_at",
        Instant,
        Server,
        "开票时间",
        "Invoiced at",
    ),
    f(
        "billing.invoice_no",
        Short,
        Server,
        "发票号码",
        "Invoice number",
    ),
    f(
        "billing.collected_at",
        Instant,
        Server,
        "收款时间",
        "Collected at",
    ),
];

/// 收据 and 客户产品进出登记簿: a product taken back for repair (§2.5-2.6).
pub const RECEIPT_FIELDS: &[FieldSpec] = &[
    f(
        "receipt.number",
        Short,
        Technician,
        "收据编号",
        "Receipt number",
    ),
    f(
        "receipt.visit_id",
        Id,
        Technician,
        "服务单",
        "Service visit",
    ),
    f(
        "receipt.customer_name",
        Short,
        Technician,
        "客户名称",
        "Customer name",
    ),
    f(
        "receipt.product_name",
        Short,
        Technician,
        "产品名称",
        "Product name",
    ),
    f("receipt.product_model", Short, Technician, "型号", "Model"),
    f(
        "receipt.product_serial",
        Short,
        Technician,
        "出厂编号",
        "Serial number",
    ),
    f(
        "receipt.condition",
        Text,
        Technician,
        "产品状况",
        "Condition",
    ),
    f(
        "receipt.accessories",
        Text,
        Technician,
        "随附配件",
        "Accessories",
    ),
    f(
        "receipt.promised_date",
        Date,
        Technician,
        "承诺修复日期",
        "Promised date",
    ),
    f(
        "receipt.issued_at",
        Instant,
        Technician,
        "开具时间",
        "Issued at",
    ),
    f(
        "signature.blob_sha256",
        Sha256,
        Technician,
        "签名图像",
        "Signature image",
    ),
    f(
        "signature.blob_bytes",
        Count,
        Technician,
        "签名图像大小",
        "Signature image size",
    ),
    f(
        "signature.blob_mime",
        Short,
        Technician,
        "签名图像类型",
        "Signature image type",
    ),
    f(
        "signature.signer_name",
        Short,
        Technician,
        "签字人",
        "Signed by",
    ),
    f(
        "signature.signed_at",
        Instant,
        Technician,
        "签字时间(设备)",
        "Signed at (device time)",
    ),
    f(
        "signature.signed_digest",
        Sha256,
        Technician,
        "签字内容摘要",
        "Digest of the signed fields",
    ),
    // §2.6 the customer signs for the repaired product
    f(
        "handback.signer_name",
        Short,
        Technician,
        "取回签字人",
        "Signed for return by",
    ),
    f(
        "handback.blob_sha256",
        Sha256,
        Technician,
        "取回签名",
        "Return signature image",
    ),
    f(
        "handback.signed_at",
        Instant,
        Technician,
        "取回签字时间(设备)",
        "Return signed at (device time)",
    ),
    f(
        "handback.signed_digest",
        Sha256,
        Technician,
        "取回签字内容摘要",
        "Digest of what was signed for return",
    ),
    // §2.7 a repair that will miss its promised date
    f(
        "receipt.will_miss",
        Choice(&["yes"]),
        Technician,
        "不能按期修复",
        "Will miss the promised date",
    ),
    f("custody.location", Short, Server, "所在位置", "Location"),
    f(
        "custody.voided_at",
        Instant,
        Server,
        "作废时间",
        "Voided at",
    ),
];

/// 客户投诉处理单: the complaint form a salesperson fills (§4.6.1).
pub const COMPLAINT_FIELDS: &[FieldSpec] = &[
    f(
        "form.customer_name",
        Short,
        Sales,
        "客户名称",
        "Customer name",
    ),
    f(
        "form.order_number",
        Short,
        Sales,
        "订单号码",
        "Order number",
    ),
    f(
        "form.product_model",
        Short,
        Sales,
        "产品型号",
        "Product model",
    ),
    f("form.product_spec", Short, Sales, "规格", "Specification"),
    f("form.quantity", Count, Sales, "数量", "Quantity"),
    f(
        "form.delivery_date",
        Date,
        Sales,
        "交货日期",
        "Delivery date",
    ),
    f("form.defect", Text, Sales, "不良原因", "Defect"),
    f("form.photos", Photos, Sales, "照片", "Photos"),
    f(
        "form.customer_demand",
        Text,
        Sales,
        "客户要求",
        "Customer's demand",
    ),
    f(
        "form.claimed_fen",
        Money,
        Sales,
        "索赔金额",
        "Amount claimed",
    ),
    f(
        "form.submitted_at",
        Instant,
        Sales,
        "提交时间",
        "Submitted at",
    ),
    f(
        "form.original_case",
        Id,
        Sales,
        "原投诉单",
        "Original complaint",
    ),
    f(
        "form.severity",
        Choice(&["general", "severe"]),
        Sales,
        "严重程度",
        "Severity",
    ),
    f("case.number", Short, Server, "投诉编号", "Complaint number"),
    f("case.state", Short, Server, "状态", "State"),
    f(
        "case.accepted_at",
        Instant,
        Server,
        "受理时间",
        "Accepted at",
    ),
];

/// Customer feedback (客户意见): a suggestion, a complaint or a rating of the technician (§3.2).
pub const FEEDBACK_FIELDS: &[FieldSpec] = &[
    f(
        "answer.kind",
        Choice(&["suggestion", "complaint", "rating"]),
        AnyDevice,
        "意见类别",
        "Kind",
    ),
    f("answer.visit_id", Id, AnyDevice, "服务单", "Service visit"),
    f("answer.technician", Id, AnyDevice, "技术员", "Technician"),
    f(
        "answer.customer_name",
        Short,
        AnyDevice,
        "客户名称",
        "Customer name",
    ),
    f(
        "answer.rating",
        Choice(&["1", "2", "3", "4", "5"]),
        AnyDevice,
        "评分",
        "Rating",
    ),
    f("answer.comment", Text, AnyDevice, "意见内容", "Comment"),
    f(
        "answer.severity",
        Choice(&["general", "severe"]),
        AnyDevice,
        "严重程度",
        "Severity",
    ),
    f(
        "answer.answered_at",
        Instant,
        AnyDevice,
        "填写时间",
        "Answered at",
    ),
    f(
        "handling.state",
        Short,
        Server,
        "处理状态",
        "Handling state",
    ),
    f(
        "answer.campaign_id",
        Id,
        AnyDevice,
        "调查活动",
        "Survey campaign",
    ),
    f(
        "answer.responses",
        Short,
        AnyDevice,
        "问卷回答",
        "Answers to the questions",
    ),
    f(
        "answer.customer_id",
        Id,
        AnyDevice,
        "客户档案",
        "Customer record",
    ),
];

/// The field table of one record kind.
pub fn fields(kind: DocKind) -> &'static [FieldSpec] {
    match kind {
        DocKind::Visit => VISIT_FIELDS,
        DocKind::Receipt => RECEIPT_FIELDS,
        DocKind::Complaint => COMPLAINT_FIELDS,
        DocKind::Feedback => FEEDBACK_FIELDS,
    }
}

/// The spec of one dotted path, if the kind has it.
pub fn spec(kind: DocKind, path: &str) -> Option<&'static FieldSpec> {
    fields(kind).iter().find(|s| s.path == path)
}

/// The child maps a new document of this kind creates at once, in table order.
pub fn sections(kind: DocKind) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for s in fields(kind) {
        let section = s.path.split_once('.').map(|(a, _)| a).unwrap_or(s.path);
        if !out.contains(&section) {
            out.push(section);
        }
    }
    out
}

/// Every code a choice field of `kind` may hold has its words.
#[cfg(test)]
mod code_labels {
    #[test]
    fn every_choice_has_words() {
        use super::*;
        for kind in [
            super::super::DocKind::Visit,
            super::super::DocKind::Receipt,
            super::super::DocKind::Complaint,
            super::super::DocKind::Feedback,
        ] {
            for spec in fields(kind) {
                if let FieldType::Choice(codes) = spec.ty {
                    for code in codes {
                        let digit = code.chars().all(|c| c.is_ascii_digit());
                        assert!(
                            digit || code_label(code).is_some(),
                            "{} may hold '{code}', which has no words",
                            spec.path
                        );
                    }
                }
            }
        }
        for state in ["registered", "form_logged", "archived"] {
            assert!(code_label(state).is_some());
        }
    }
}
