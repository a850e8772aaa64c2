//! Field ownership: which writer may touch which path. The server runs [`check_patches`] over the
//! diff of every incoming batch (applied to a fork first) and refuses the whole batch for that
//! document on the first path the device's user may not write.

use automerge::{Patch, PatchAction};
use automerge::{Prop, Value};
use serde::{Deserialize, Serialize};
use std::fmt;

use super::fields::{self, FieldType};
use super::{DocKind, Role};

/// Why a document's changes were refused. The code is stable and machine-readable; the message
/// is for people.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub code: RefusalCode,
    /// The dotted path concerned, empty when the refusal is about the whole document.
    pub path: String,
    pub message: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalCode {
    /// The path belongs to another writer (usually the server).
    ForbiddenPath,
    /// The path is not in the field table of this document type.
    UnknownPath,
    /// `type`, `schema`, `id`, `region` and the sections are set once, at creation.
    Immutable,
    /// The value does not fit the field.
    InvalidValue,
    /// The document says a schema version newer than this server knows.
    SchemaUnsupported,
    /// The document's root is missing or contradicts itself.
    BadRoot,
    /// A change was made by an actor that is not the sending device's.
    ForeignActor,
    /// The user may not see or write this document.
    NotVisible,
    /// The change bytes could not be read, or depend on changes nobody sent.
    Malformed,
    /// A referenced blob is missing on the server.
    MissingBlob,
    /// A rule of the regulation forbids this state (e.g. completion without signature).
    RuleBroken,
}

impl RefusalCode {
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalCode::ForbiddenPath => "forbidden_path",
            RefusalCode::UnknownPath => "unknown_path",
            RefusalCode::Immutable => "immutable",
            RefusalCode::InvalidValue => "invalid_value",
            RefusalCode::SchemaUnsupported => "schema_unsupported",
            RefusalCode::BadRoot => "bad_root",
            RefusalCode::ForeignActor => "foreign_actor",
            RefusalCode::NotVisible => "not_visible",
            RefusalCode::Malformed => "malformed",
            RefusalCode::MissingBlob => "missing_blob",
            RefusalCode::RuleBroken => "rule_broken",
        }
    }
}

impl Refusal {
    pub fn new(code: RefusalCode, path: impl Into<String>, message: impl Into<String>) -> Self {
        Refusal {
            code,
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}: {}", self.code.as_str(), self.message)
        } else {
            write!(
                f,
                "{} at '{}': {}",
                self.code.as_str(),
                self.path,
                self.message
            )
        }
    }
}

/// Root keys a document carries besides its sections.
pub const ROOT_KEYS: &[&str] = &["type", "schema", "id", "region"];

/// Who is writing: a device user with a role, or the server itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Author {
    Device(Role),
    Server,
}

/// May `author` write the dotted `path` of a document of `kind`? Checks the field table only;
/// values are checked by [`check_value`].
pub fn may_write(
    kind: DocKind,
    author: Author,
    path: &str,
) -> Result<&'static fields::FieldSpec, Refusal> {
    let spec = fields::spec(kind, path).ok_or_else(|| {
        Refusal::new(
            RefusalCode::UnknownPath,
            path,
            format!("a {kind} document has no field '{path}'"),
        )
    })?;
    let allowed = match author {
        Author::Server => true,
        Author::Device(role) => role.writes(spec.writer),
    };
    if allowed {
        Ok(spec)
    } else {
        let who = match author {
            Author::Device(role) => role.code(),
            Author::Server => "server",
        };
        Err(Refusal::new(
            RefusalCode::ForbiddenPath,
            path,
            format!("'{path}' is written by {:?}, not by a {who}", spec.writer).to_lowercase(),
        ))
    }
}

/// Checks one scalar against its field type.
pub fn check_value(
    spec: &fields::FieldSpec,
    value: &automerge::ScalarValue,
) -> Result<(), Refusal> {
    use automerge::ScalarValue as S;
    let bad = |why: String| Err(Refusal::new(RefusalCode::InvalidValue, spec.path, why));
    match (spec.ty, value) {
        (FieldType::Money | FieldType::Count, S::Int(n)) if *n >= 0 => Ok(()),
        (FieldType::Money, S::Int(n)) => bad(format!("amount {n} fen is negative")),
        (FieldType::Count, S::Int(n)) => bad(format!("count {n} is negative")),
        (FieldType::Money | FieldType::Count, other) => {
            bad(format!("expected a whole number, got {other}"))
        }
        (FieldType::Notes | FieldType::Photos, _) => {
            bad("a note or photos field is a list of entries, not a single value".into())
        }
        (ty, S::Str(s)) => check_text(ty, s).or_else(bad),
        (_, other) => bad(format!("expected text, got {other}")),
    }
}

fn check_text(ty: FieldType, s: &str) -> Result<(), String> {
    match ty {
        FieldType::Text => check_free_text(s),
        FieldType::Short => {
            if s.chars().count() > 500 {
                Err("longer than 500 characters".into())
            } else if s.contains(['\n', '\r']) {
                Err("must be a single line".into())
            } else {
                Ok(())
            }
        }
        FieldType::Date => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(|_| ())
            .map_err(|_| format!("'{s}' is not a date (YYYY-MM-DD)")),
        FieldType::Instant => chrono::DateTime::parse_from_rfc3339(s)
            .map(|_| ())
            .map_err(|_| format!("'{s}' is not an RFC 3339 time")),
        FieldType::Choice(options) => {
            if options.contains(&s) {
                Ok(())
            } else {
                Err(format!("'{s}' is not one of {}", options.join(", ")))
            }
        }
        FieldType::Sha256 => {
            if s.len() == 64
                && s.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            {
                Ok(())
            } else {
                Err(format!("'{s}' is not a lowercase SHA-256 hex digest"))
            }
        }
        FieldType::Id => uuid::Uuid::parse_str(s)
            .map(|_| ())
            .map_err(|_| format!("'{s}' is not an id")),
        FieldType::Money | FieldType::Count | FieldType::Notes | FieldType::Photos => {
            Err("unexpected text".into())
        }
    }
}

/// Free text (a `Text` field, a note entry) is at most [`fields::TEXT_MAX_CHARS`] characters.
fn check_free_text(s: &str) -> Result<(), String> {
    let n = s.chars().count();
    if n > fields::TEXT_MAX_CHARS {
        Err(format!(
            "{n} characters; free text holds at most {}",
            fields::TEXT_MAX_CHARS
        ))
    } else {
        Ok(())
    }
}

/// The keys of one note entry: its text, who wrote it (an actor) and when (unix seconds).
pub const NOTE_ENTRY_KEYS: &[&str] = &["text", "by", "at"];

/// The keys of one photo entry: a note entry's (the caption, who added it, when it was taken)
/// and the stored image's SHA-256, size in bytes and type.
pub const PHOTO_ENTRY_KEYS: &[&str] = &["text", "by", "at", "sha256", "bytes", "mime"];

/// The longest caption of a photo, in characters.
pub const CAPTION_MAX_CHARS: usize = 200;

/// Checks one value of an entry of the note or photos field `path` (of type `ty`).
pub fn check_note_value(
    ty: FieldType,
    path: &str,
    key: &str,
    value: &automerge::ScalarValue,
) -> Result<(), Refusal> {
    use automerge::ScalarValue as S;
    let bad = |why: String| Err(Refusal::new(RefusalCode::InvalidValue, path, why));
    let photos = ty == FieldType::Photos;
    match (key, value) {
        ("text", S::Str(s)) if photos && s.chars().count() > CAPTION_MAX_CHARS => bad(format!(
            "a caption holds at most {CAPTION_MAX_CHARS} characters"
        )),
        ("text", S::Str(s)) => check_free_text(s).or_else(bad),
        ("by", S::Str(s)) if s.len() <= 64 => Ok(()),
        ("at", S::Int(_)) => Ok(()),
        ("sha256", S::Str(s)) if photos => check_text(FieldType::Sha256, s).or_else(bad),
        ("bytes", S::Int(n)) if photos && (1..=crate::wire::MAX_BLOB_BYTES as i64).contains(n) => {
            Ok(())
        }
        ("mime", S::Str(s)) if photos && s == "image/jpeg" => Ok(()),
        ("text" | "by" | "at", other) => bad(format!("a note's '{key}' cannot be {other}")),
        ("sha256" | "bytes" | "mime", other) if photos => {
            bad(format!("a photo's '{key}' cannot be {other}"))
        }
        _ if photos => bad(format!(
            "a photo entry holds {}, not '{key}'",
            PHOTO_ENTRY_KEYS.join(", ")
        )),
        _ => bad(format!(
            "a note entry holds {}, not '{key}'",
            NOTE_ENTRY_KEYS.join(", ")
        )),
    }
}

/// True for the types whose schema 1 documents kept an Automerge `Text` object.
fn was_text_object(ty: FieldType) -> bool {
    matches!(ty, FieldType::Notes | FieldType::Text)
}

/// Checks the entries of a note's list as a new document carries them: each a map of
/// [`NOTE_ENTRY_KEYS`] scalars, written by someone who may write the note.
fn check_note_list(
    doc: &automerge::Automerge,
    kind: DocKind,
    author: Author,
    dotted: &str,
    list: &automerge::ObjId,
) -> Result<(), Refusal> {
    use automerge::{ObjType, ReadDoc};
    let items: Vec<_> = doc.list_range(list, ..).collect();
    if items.is_empty() {
        return Ok(());
    }
    let spec = may_write(kind, author, dotted)?;
    for item in items {
        let id = item.id();
        let entry = match item.value.into_value() {
            Value::Object(ObjType::Map) => id,
            _ => {
                return Err(Refusal::new(
                    RefusalCode::InvalidValue,
                    dotted,
                    "a note's entries are maps of text, by and at",
                ));
            }
        };
        for key in doc.keys(&entry) {
            for (value, _) in doc.get_all(&entry, &key).unwrap_or_default() {
                match value {
                    Value::Scalar(v) => check_note_value(spec.ty, dotted, &key, &v)?,
                    Value::Object(_) => {
                        return Err(Refusal::new(
                            RefusalCode::UnknownPath,
                            dotted,
                            "a note entry holds values, nothing deeper",
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

/// The dotted path of a patch's target: the path to its object plus the key it touches.
/// Sequence positions are written `*`.
fn patch_path(patch: &Patch) -> (Vec<String>, Option<String>) {
    let mut parts: Vec<String> = patch
        .path
        .iter()
        .map(|(_, prop)| match prop {
            Prop::Map(k) => k.clone(),
            Prop::Seq(_) => "*".to_string(),
        })
        .collect();
    let key = match &patch.action {
        PatchAction::PutMap { key, .. } | PatchAction::DeleteMap { key } => Some(key.clone()),
        PatchAction::Increment { prop, .. } | PatchAction::Conflict { prop } => match prop {
            Prop::Map(k) => Some(k.clone()),
            Prop::Seq(_) => Some("*".into()),
        },
        _ => None,
    };
    if let Some(k) = &key {
        parts.push(k.clone());
    }
    (parts, key)
}

/// The dotted paths a set of patches touches, each once, in order of first touch: what a change
/// did, for people reading a record's history.
pub fn touched_paths(patches: &[Patch]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for patch in patches {
        let path = patch_path(patch).0.join(".");
        if !path.is_empty() && !out.contains(&path) {
            out.push(path);
        }
    }
    out
}

/// Checks a document the server had nothing of, as [`check_patches`] checks a diff from nothing,
/// without diffing: the patches of its root and section keys are made by walking them (every
/// concurrent value, not only the winner), and the contents of notes texts, which a diff lists
/// character by character and which are free text anyway, are only searched for nested
/// objects. About a tenth of the cost of the diff for a visit with long notes.
pub fn check_new_document(
    kind: DocKind,
    author: Author,
    doc: &automerge::Automerge,
) -> Result<(), Refusal> {
    use automerge::{ObjType, ROOT, ReadDoc};
    let sections = fields::sections(kind);
    let put =
        |obj: &automerge::ObjId, path: Vec<(automerge::ObjId, Prop)>, key: &str, value| Patch {
            obj: obj.clone(),
            path,
            action: PatchAction::PutMap {
                key: key.to_string(),
                value,
                conflict: false,
            },
        };
    let too_deep = |path: String| {
        Refusal::new(
            RefusalCode::UnknownPath,
            path,
            "documents hold sections of fields, nothing deeper",
        )
    };
    // Every value of every key, concurrent ones included: one pass over the map, and the
    // concurrent values asked for only where the pass says there are some.
    let every_value = |obj: &automerge::ObjId| -> Vec<(String, Value<'_>, automerge::ObjId)> {
        let mut out = Vec::new();
        for item in doc.map_range(obj, ..) {
            let key = item.key.to_string();
            if item.conflict {
                for (value, id) in doc.get_all(obj, key.as_str()).unwrap_or_default() {
                    out.push((key.clone(), value, id));
                }
            } else {
                let id = item.id();
                out.push((key, item.value.into_value(), id));
            }
        }
        out
    };
    let mut patches = Vec::new();
    for (key, value, id) in every_value(&ROOT) {
        {
            let object = match value {
                Value::Object(o) => Some(o),
                Value::Scalar(_) => None,
            };
            patches.push(put(
                &ROOT,
                Vec::new(),
                &key,
                (value.into_owned(), id.clone()),
            ));
            match object {
                Some(ObjType::Map) if sections.contains(&key.as_str()) => {}
                Some(_) if !sections.contains(&key.as_str()) => {
                    return Err(Refusal::new(
                        RefusalCode::BadRoot,
                        key,
                        "sections are maps and root keys are values",
                    ));
                }
                _ => continue,
            }
            let path = vec![(ROOT, Prop::Map(key.clone()))];
            for (field, value, field_id) in every_value(&id) {
                {
                    if matches!(value, Value::Object(ObjType::List)) {
                        let dotted = format!("{key}.{field}");
                        if fields::spec(kind, &dotted).is_some_and(|s| s.ty.is_entries()) {
                            check_note_list(doc, kind, author, &dotted, &field_id)?;
                        }
                    }
                    if matches!(value, Value::Object(ObjType::Text)) {
                        let spans = doc
                            .spans(&field_id)
                            .map_err(|_| too_deep(format!("{key}.{field}")))?;
                        if spans
                            .into_iter()
                            .any(|s| matches!(s, automerge::iter::Span::Block(_)))
                        {
                            return Err(too_deep(format!("{key}.{field}")));
                        }
                    }
                    patches.push(put(
                        &id,
                        path.clone(),
                        &field,
                        (value.into_owned(), field_id),
                    ));
                }
            }
        }
    }
    check_patches(kind, author, true, &patches)
}

/// Checks every patch of an incoming batch. `is_new` is true when the server had nothing of this
/// document before the batch: then, and only then, the root keys and the empty sections may be
/// written.
pub fn check_patches(
    kind: DocKind,
    author: Author,
    is_new: bool,
    patches: &[Patch],
) -> Result<(), Refusal> {
    let sections = fields::sections(kind);
    for patch in patches {
        let (parts, _) = patch_path(patch);
        let dotted = parts.join(".");
        match parts.len() {
            0 => {
                return Err(Refusal::new(
                    RefusalCode::UnknownPath,
                    "",
                    "unexpected change at the document root",
                ));
            }
            1 => {
                let key = parts[0].as_str();
                let known = ROOT_KEYS.contains(&key) || sections.contains(&key);
                if !known {
                    return Err(Refusal::new(
                        RefusalCode::UnknownPath,
                        dotted,
                        format!("a {kind} document has no root key '{key}'"),
                    ));
                }
                if !is_new || author == Author::Server {
                    return Err(Refusal::new(
                        RefusalCode::Immutable,
                        dotted,
                        format!("'{key}' is set once, when the document is created"),
                    ));
                }
                if let PatchAction::PutMap {
                    value: (value, _), ..
                } = &patch.action
                {
                    let is_section = sections.contains(&key);
                    let is_map = matches!(value, Value::Object(automerge::ObjType::Map));
                    if is_section != is_map {
                        return Err(Refusal::new(
                            RefusalCode::BadRoot,
                            dotted,
                            "sections are maps and root keys are values",
                        ));
                    }
                }
            }
            2 => check_field_patch(kind, author, is_new, &dotted, &patch.action)?,
            3 | 4 if parts[2] == "*" => {
                check_entry_patch(kind, author, &parts, &dotted, &patch.action)?
            }
            _ => {
                return Err(Refusal::new(
                    RefusalCode::UnknownPath,
                    dotted,
                    "documents hold sections of fields, nothing deeper",
                ));
            }
        }
    }
    Ok(())
}

/// Checks a patch on a field of a section (`section.field`).
fn check_field_patch(
    kind: DocKind,
    author: Author,
    is_new: bool,
    dotted: &str,
    action: &PatchAction,
) -> Result<(), Refusal> {
    use automerge::ObjType;
    let ty = fields::spec(kind, dotted).map(|s| s.ty);
    let object = match action {
        PatchAction::PutMap {
            value: (Value::Object(obj), _),
            ..
        } => Some(*obj),
        _ => None,
    };
    // Every new document carries its notes' empty lists (schema 1: empty texts), whoever
    // creates it; entries in them are checked on their own.
    let skeleton = match (ty, object) {
        (Some(t), Some(ObjType::List)) if t.is_entries() => is_new,
        (Some(t), Some(ObjType::Text)) => is_new && was_text_object(t),
        _ => false,
    };
    if skeleton {
        return Ok(());
    }
    let spec = may_write(kind, author, dotted)?;
    let invalid = |why: &str| Err(Refusal::new(RefusalCode::InvalidValue, dotted, why));
    match action {
        PatchAction::PutMap {
            value: (Value::Scalar(v), _),
            ..
        } => check_value(spec, v),
        // A schema 1 note becomes a list of entries when it is next written.
        PatchAction::PutMap { .. } if spec.ty.is_entries() && object == Some(ObjType::List) => {
            Ok(())
        }
        PatchAction::PutMap { .. } => invalid("this field holds a value, not an object"),
        PatchAction::DeleteMap { .. } if was_text_object(spec.ty) => Err(Refusal::new(
            RefusalCode::Immutable,
            dotted,
            "free text is edited, never removed",
        )),
        PatchAction::DeleteMap { .. } | PatchAction::Conflict { .. } => Ok(()),
        // Entries added to a note: each a map, whose keys are checked on their own.
        PatchAction::Insert { values, .. } if spec.ty.is_entries() => {
            if values
                .iter()
                .all(|(v, _, _)| matches!(v, Value::Object(ObjType::Map)))
            {
                Ok(())
            } else {
                invalid("a note's entries are maps of text, by and at")
            }
        }
        PatchAction::PutSeq {
            value: (Value::Object(ObjType::Map), _),
            ..
        } if spec.ty.is_entries() => Ok(()),
        // Splices inside a schema 1 text object name the text's path; entries removed from a
        // note are the writer's to remove.
        PatchAction::SpliceText { .. } | PatchAction::Mark { .. } if was_text_object(spec.ty) => {
            Ok(())
        }
        PatchAction::DeleteSeq { .. } if was_text_object(spec.ty) => Ok(()),
        _ => invalid("unsupported kind of edit for this field"),
    }
}

/// Checks a patch inside a note's entry: `section.field.*` (a conflict on an entry) or
/// `section.field.*.key` (a value of an entry).
fn check_entry_patch(
    kind: DocKind,
    author: Author,
    parts: &[String],
    dotted: &str,
    action: &PatchAction,
) -> Result<(), Refusal> {
    let note = format!("{}.{}", parts[0], parts[1]);
    let deeper = || {
        Err(Refusal::new(
            RefusalCode::UnknownPath,
            dotted,
            "documents hold sections of fields, nothing deeper",
        ))
    };
    if !fields::spec(kind, &note).is_some_and(|s| s.ty.is_entries()) {
        return deeper();
    }
    let spec = may_write(kind, author, &note)?;
    match (parts.len(), action) {
        (3, PatchAction::Conflict { .. }) => Ok(()),
        (
            4,
            PatchAction::PutMap {
                key,
                value: (Value::Scalar(v), _),
                ..
            },
        ) => check_note_value(spec.ty, &note, key, v),
        (4, PatchAction::Conflict { .. }) => Ok(()),
        (4, PatchAction::DeleteMap { .. }) => Err(Refusal::new(
            RefusalCode::Immutable,
            note,
            "a note entry's values are replaced, never removed",
        )),
        _ => deeper(),
    }
}
