//! [`RecordDoc`]: a typed view over one Automerge record document. Every write goes through the
//! field table, so what a device writes is what the server will accept.

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{
    ActorId, Automerge, ChangeHash, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, Value,
};
use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::fields::{self, FieldType};
use super::ownership::{Author, Refusal, RefusalCode, check_note_value, check_value, may_write};
use super::{DocKind, ModelError, Result, SCHEMA_VERSION};

/// A field's value as the API sees it: text, or a whole number (money in fen, counts).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FieldValue {
    Int(i64),
    Text(String),
}

impl FieldValue {
    pub fn as_text(&self) -> Option<&str> {
        match self {
            FieldValue::Text(s) => Some(s),
            FieldValue::Int(_) => None,
        }
    }
    pub fn as_int(&self) -> Option<i64> {
        match self {
            FieldValue::Int(n) => Some(*n),
            FieldValue::Text(_) => None,
        }
    }
    fn to_scalar(&self) -> ScalarValue {
        match self {
            FieldValue::Int(n) => ScalarValue::Int(*n),
            FieldValue::Text(s) => ScalarValue::Str(s.as_str().into()),
        }
    }
}

impl From<&str> for FieldValue {
    fn from(s: &str) -> Self {
        FieldValue::Text(s.to_string())
    }
}
impl From<String> for FieldValue {
    fn from(s: String) -> Self {
        FieldValue::Text(s)
    }
}
impl From<i64> for FieldValue {
    fn from(n: i64) -> Self {
        FieldValue::Int(n)
    }
}

/// The root of a record document, as read from its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    pub kind: DocKind,
    pub schema: i64,
    pub id: Uuid,
    pub region: String,
}

/// One record document: a service visit, a take-back receipt, a complaint or a feedback.
#[derive(Debug, Clone)]
pub struct RecordDoc {
    doc: Automerge,
    root: Root,
}

fn damaged(e: impl std::fmt::Display) -> ModelError {
    ModelError::Damaged(e.to_string())
}

/// Reads and checks a document's root: `type`, `schema`, `id`, `region`.
/// Whether `doc` holds the change `hash`. Asked of the dependency graph: Automerge's
/// `get_change_by_hash` rebuilds the whole change from the operations to answer the same
/// question (~0.25 ms for a visit). Exact for documents with no change waiting on a missing
/// dependency, which is every document this project stores.
pub fn has_change(doc: &Automerge, hash: &ChangeHash) -> bool {
    !doc.get_missing_deps(std::slice::from_ref(hash))
        .contains(hash)
}

pub fn read_root(doc: &Automerge) -> std::result::Result<Root, Refusal> {
    let bad = |m: &str| Refusal::new(RefusalCode::BadRoot, "", m.to_string());
    let text = |key: &str| -> Option<String> {
        match doc.get(ROOT, key).ok().flatten() {
            Some((Value::Scalar(s), _)) => match s.as_ref() {
                ScalarValue::Str(t) => Some(t.to_string()),
                _ => None,
            },
            _ => None,
        }
    };
    let kind_text = text("type").ok_or_else(|| bad("the document has no 'type'"))?;
    let kind: DocKind = kind_text
        .parse()
        .map_err(|e: String| Refusal::new(RefusalCode::BadRoot, "type", e))?;
    let schema = match doc.get(ROOT, "schema").ok().flatten() {
        Some((Value::Scalar(s), _)) => match s.as_ref() {
            ScalarValue::Int(n) => *n,
            _ => return Err(bad("'schema' is not a number")),
        },
        _ => return Err(bad("the document has no 'schema'")),
    };
    if schema > SCHEMA_VERSION {
        return Err(Refusal::new(
            RefusalCode::SchemaUnsupported,
            "schema",
            format!(
                "schema {schema} is newer than this server's {SCHEMA_VERSION}; update the server"
            ),
        ));
    }
    if schema < 1 {
        return Err(bad("'schema' must be 1 or more"));
    }
    let id = text("id")
        .and_then(|s| Uuid::parse_str(&s).ok())
        .ok_or_else(|| bad("'id' is missing or not a UUID"))?;
    let region = text("region").ok_or_else(|| bad("the document has no 'region'"))?;
    Ok(Root {
        kind,
        schema,
        id,
        region,
    })
}

impl RecordDoc {
    /// Creates a new record with its root and every section, in one change by `actor`.
    pub fn create(
        kind: DocKind,
        id: Uuid,
        region: &str,
        actor: ActorId,
        unix_time: i64,
    ) -> Result<Self> {
        let mut doc = Automerge::new().with_actor(actor);
        doc.transact_with::<_, _, automerge::AutomergeError, _>(
            |_| {
                CommitOptions::default()
                    .with_time(unix_time)
                    .with_message("create")
            },
            |tx| {
                tx.put(ROOT, "type", kind.code())?;
                tx.put(ROOT, "schema", SCHEMA_VERSION)?;
                tx.put(ROOT, "id", id.to_string())?;
                tx.put(ROOT, "region", region)?;
                for section in fields::sections(kind) {
                    let obj = tx.put_object(ROOT, section, ObjType::Map)?;
                    let notes = fields::fields(kind).iter().filter(|s| s.ty.is_entries());
                    for spec in notes {
                        let key = spec
                            .path
                            .strip_prefix(section)
                            .and_then(|r| r.strip_prefix('.'));
                        if let Some(key) = key {
                            tx.put_object(&obj, key, ObjType::List)?;
                        }
                    }
                }
                Ok(())
            },
        )
        .map_err(|f| damaged(f.error))?;
        let root = Root {
            kind,
            schema: SCHEMA_VERSION,
            id,
            region: region.to_string(),
        };
        Ok(RecordDoc { doc, root })
    }

    /// Wraps an Automerge document after checking its root.
    pub fn from_automerge(doc: Automerge) -> Result<Self> {
        let root = read_root(&doc)?;
        Ok(RecordDoc { doc, root })
    }

    /// Loads a document from saved bytes (a snapshot, possibly followed by incremental chunks).
    pub fn load(bytes: &[u8]) -> Result<Self> {
        let doc = Automerge::load(bytes).map_err(damaged)?;
        Self::from_automerge(doc)
    }

    pub fn kind(&self) -> DocKind {
        self.root.kind
    }
    pub fn id(&self) -> Uuid {
        self.root.id
    }
    pub fn region(&self) -> &str {
        &self.root.region
    }
    pub fn automerge(&self) -> &Automerge {
        &self.doc
    }
    pub fn automerge_mut(&mut self) -> &mut Automerge {
        &mut self.doc
    }
    pub fn into_automerge(self) -> Automerge {
        self.doc
    }
    pub fn heads(&self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }
    pub fn set_actor(&mut self, actor: ActorId) {
        self.doc.set_actor(actor);
    }

    fn section(&self, section: &str) -> Option<ObjId> {
        match self.doc.get(ROOT, section).ok().flatten() {
            Some((Value::Object(ObjType::Map), id)) => Some(id),
            _ => None,
        }
    }

    fn split(path: &str) -> Option<(&str, &str)> {
        path.split_once('.')
    }

    fn read(&self, value: Value<'_>, id: &ObjId) -> Option<FieldValue> {
        match value {
            Value::Object(ObjType::List) => Some(FieldValue::Text(
                self.entries_of(id)
                    .into_iter()
                    .map(|e| e.text)
                    .collect::<Vec<_>>()
                    .join("\n"),
            )),
            Value::Object(ObjType::Text) => self.doc.text(id).ok().map(FieldValue::Text),
            Value::Scalar(s) => match s.as_ref() {
                ScalarValue::Str(t) => Some(FieldValue::Text(t.to_string())),
                ScalarValue::Int(n) => Some(FieldValue::Int(*n)),
                ScalarValue::Uint(n) => i64::try_from(*n).ok().map(FieldValue::Int),
                _ => None,
            },
            _ => None,
        }
    }

    /// The entries of a note's list, in list order (concurrent appends in a deterministic
    /// order: Automerge orders them by their operation ids).
    fn entries_of(&self, list: &ObjId) -> Vec<NoteEntry> {
        self.entry_maps(list)
            .into_iter()
            .map(|entry| NoteEntry {
                text: self.entry_text(&entry, "text"),
                by: self.entry_text(&entry, "by"),
                at: self.entry_int(&entry, "at"),
            })
            .collect()
    }

    /// The entries (maps) of a list of entries, in list order.
    fn entry_maps(&self, list: &ObjId) -> Vec<ObjId> {
        self.doc
            .list_range(list, ..)
            .filter_map(|item| {
                let id = item.id();
                matches!(item.value.into_value(), Value::Object(ObjType::Map)).then_some(id)
            })
            .collect()
    }

    fn entry_scalar(&self, entry: &ObjId, key: &str) -> Option<ScalarValue> {
        match self.doc.get(entry, key).ok().flatten() {
            Some((Value::Scalar(s), _)) => Some(s.into_owned()),
            _ => None,
        }
    }

    /// A text value of an entry; empty when it is missing or not text.
    fn entry_text(&self, entry: &ObjId, key: &str) -> String {
        match self.entry_scalar(entry, key) {
            Some(ScalarValue::Str(t)) => t.to_string(),
            _ => String::new(),
        }
    }

    /// A whole-number value of an entry; 0 when it is missing or not a number.
    fn entry_int(&self, entry: &ObjId, key: &str) -> i64 {
        match self.entry_scalar(entry, key) {
            Some(ScalarValue::Int(n)) => n,
            _ => 0,
        }
    }

    /// The entries of a note (`form.diagnosis`, `form.work_done`), oldest first. A schema 1
    /// note, kept as one text, reads as a single entry by nobody at time 0.
    pub fn note_entries(&self, path: &str) -> Vec<NoteEntry> {
        let Some((section, key)) = Self::split(path) else {
            return Vec::new();
        };
        let Some(obj) = self.section(section) else {
            return Vec::new();
        };
        match self.doc.get(&obj, key).ok().flatten() {
            Some((Value::Object(ObjType::List), id)) => self.entries_of(&id),
            Some((Value::Object(ObjType::Text), id)) => match self.doc.text(&id) {
                Ok(text) if !text.is_empty() => vec![NoteEntry {
                    text,
                    by: String::new(),
                    at: 0,
                }],
                _ => Vec::new(),
            },
            _ => Vec::new(),
        }
    }

    /// The photos of a photos field, in the order they were added (concurrent additions in a
    /// deterministic order).
    pub fn photos(&self, path: &str) -> Vec<PhotoEntry> {
        let Some((section, key)) = Self::split(path) else {
            return Vec::new();
        };
        let Some(obj) = self.section(section) else {
            return Vec::new();
        };
        let Some((Value::Object(ObjType::List), list)) = self.doc.get(&obj, key).ok().flatten()
        else {
            return Vec::new();
        };
        self.entry_maps(&list)
            .into_iter()
            .map(|entry| PhotoEntry {
                sha256: self.entry_text(&entry, "sha256"),
                bytes: self.entry_int(&entry, "bytes"),
                mime: self.entry_text(&entry, "mime"),
                caption: self.entry_text(&entry, "text"),
                by: self.entry_text(&entry, "by"),
                taken_at: self.entry_int(&entry, "at"),
            })
            .filter(|p| !p.sha256.is_empty())
            .collect()
    }

    /// The field `path` if `author` may write it and it is of type `ty`; refused with `why`
    /// when it is another type.
    fn writable_as(
        &self,
        author: Author,
        path: &str,
        ty: FieldType,
        why: &str,
    ) -> Result<&'static fields::FieldSpec> {
        let spec = may_write(self.kind(), author, path)?;
        if spec.ty != ty {
            return Err(ModelError::InvalidValue {
                path: path.to_string(),
                reason: why.to_string(),
            });
        }
        Ok(spec)
    }

    /// Adds a photo (already stored as a blob) to the photos field `path`, as one change.
    pub fn add_photo(
        &mut self,
        author: Author,
        path: &str,
        photo: &PhotoEntry,
        unix_time: i64,
    ) -> Result<Option<ChangeHash>> {
        let spec = self.writable_as(
            author,
            path,
            FieldType::Photos,
            "photos are added to a photos field only",
        )?;
        let values = [
            ("text", ScalarValue::Str(photo.caption.as_str().into())),
            ("sha256", ScalarValue::Str(photo.sha256.as_str().into())),
            ("bytes", ScalarValue::Int(photo.bytes)),
            ("mime", ScalarValue::Str(photo.mime.as_str().into())),
            ("at", ScalarValue::Int(photo.taken_at)),
        ];
        for (key, value) in &values {
            check_note_value(spec.ty, path, key, value)?;
        }
        let (section, key) =
            Self::split(path).ok_or_else(|| damaged(format!("bad path {path}")))?;
        let obj = self
            .section(section)
            .ok_or_else(|| damaged(format!("section '{section}' is missing")))?;
        let by = self.doc.get_actor().to_hex_string();
        let outcome = self
            .doc
            .transact_with::<_, _, automerge::AutomergeError, _>(
                |_| CommitOptions::default().with_time(unix_time),
                |tx| {
                    let list = match tx.get(&obj, key)? {
                        Some((Value::Object(ObjType::List), id)) => id,
                        // A record made before photos existed gets its list now.
                        _ => tx.put_object(&obj, key, ObjType::List)?,
                    };
                    let entry = tx.insert_object(&list, tx.length(&list), ObjType::Map)?;
                    for (key, value) in values {
                        tx.put(&entry, key, value)?;
                    }
                    tx.put(&entry, "by", by.as_str())?;
                    Ok(())
                },
            );
        match outcome {
            Ok(success) => Ok(success.hash),
            Err(f) => Err(damaged(f.error)),
        }
    }

    /// Replaces the text of a note's entry `index`, as one change. Two devices replacing the
    /// same entry at once both stay visible as a conflict.
    pub fn edit_note_entry(
        &mut self,
        author: Author,
        path: &str,
        index: usize,
        text: &str,
        unix_time: i64,
    ) -> Result<Option<ChangeHash>> {
        let spec = self.writable_as(author, path, FieldType::Notes, "only a note has entries")?;
        let invalid = |reason: &str| ModelError::InvalidValue {
            path: path.to_string(),
            reason: reason.to_string(),
        };
        check_note_value(spec.ty, path, "text", &ScalarValue::Str(text.into()))?;
        let (section, key) = Self::split(path).ok_or_else(|| invalid("bad path"))?;
        let list = self
            .section(section)
            .and_then(|obj| match self.doc.get(&obj, key).ok().flatten() {
                Some((Value::Object(ObjType::List), id)) => Some(id),
                _ => None,
            })
            .ok_or_else(|| invalid("this note has no entries yet"))?;
        let entry = match self.doc.get(&list, index).ok().flatten() {
            Some((Value::Object(ObjType::Map), id)) => id,
            _ => return Err(invalid(&format!("this note has no entry {index}"))),
        };
        self.doc
            .transact_with::<_, _, automerge::AutomergeError, _>(
                |_| CommitOptions::default().with_time(unix_time),
                |tx| {
                    tx.put(&entry, "text", text)?;
                    tx.put(&entry, "at", unix_time)?;
                    Ok(())
                },
            )
            .map(|s| s.hash)
            .map_err(|f| damaged(f.error))
    }

    /// The current value of a field (the winning one where devices wrote concurrently).
    pub fn get(&self, path: &str) -> Option<FieldValue> {
        let (section, key) = Self::split(path)?;
        let obj = self.section(section)?;
        let (value, id) = self.doc.get(&obj, key).ok().flatten()?;
        self.read(value, &id)
    }

    /// Every concurrent value of a field: one when there is no conflict, several when devices
    /// wrote it concurrently. The first is the one [`get`](Self::get) returns.
    pub fn get_all(&self, path: &str) -> Vec<FieldValue> {
        let Some((section, key)) = Self::split(path) else {
            return Vec::new();
        };
        let Some(obj) = self.section(section) else {
            return Vec::new();
        };
        let mut all: Vec<FieldValue> = self
            .doc
            .get_all(&obj, key)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(v, id)| self.read(v, &id))
            .collect();
        // `get_all` lists in op order and the winner is the last; show the winner first.
        all.reverse();
        all
    }

    /// Every field that has a value, in table order. Each section is read in one pass over
    /// its keys (a lookup per field costs several times more on a long document).
    pub fn values(&self) -> Vec<(&'static str, FieldValue)> {
        let mut out = Vec::new();
        let mut section: Option<(&str, HashMap<String, FieldValue>)> = None;
        for spec in fields::fields(self.kind()) {
            let Some((name, key)) = Self::split(spec.path) else {
                continue;
            };
            if section.as_ref().map(|(n, _)| *n) != Some(name) {
                let present = self
                    .section(name)
                    .map(|obj| {
                        self.doc
                            .map_range(&obj, ..)
                            .filter_map(|item| {
                                let id = item.id();
                                let value = self.read(item.value.into_value(), &id)?;
                                Some((item.key.into_owned(), value))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                section = Some((name, present));
            }
            let value = section.as_mut().and_then(|(_, p)| p.remove(key));
            match value {
                Some(FieldValue::Text(t)) if t.is_empty() => {}
                Some(v) => out.push((spec.path, v)),
                None => {}
            }
        }
        out
    }

    /// Checks a set of writes without making them.
    pub fn check(&self, author: Author, writes: &[(&str, FieldValue)]) -> Result<()> {
        for (path, value) in writes {
            let spec = may_write(self.kind(), author, path)?;
            if spec.ty == FieldType::Photos {
                return Err(ModelError::InvalidValue {
                    path: path.to_string(),
                    reason: "a photo is added with its image, not written as a value".into(),
                });
            } else if spec.ty != FieldType::Notes {
                check_value(spec, &value.to_scalar())?;
            } else if value.as_text().is_none() {
                return Err(ModelError::InvalidValue {
                    path: path.to_string(),
                    reason: "free text expected".into(),
                });
            } else {
                check_note_value(spec.ty, path, "text", &value.to_scalar())?;
            }
        }
        Ok(())
    }

    /// Writes fields as one change. Nothing is written if any field is refused. A note
    /// (`FieldType::Notes`) is not replaced: its value is appended as a new entry, by this
    /// document's actor at `unix_time` (an empty value adds nothing).
    pub fn set_many(
        &mut self,
        author: Author,
        writes: &[(&str, FieldValue)],
        unix_time: i64,
    ) -> Result<Option<ChangeHash>> {
        self.check(author, writes)?;
        let mut targets = Vec::with_capacity(writes.len());
        for (path, value) in writes {
            let (section, key) =
                Self::split(path).ok_or_else(|| damaged(format!("bad path {path}")))?;
            let obj = self
                .section(section)
                .ok_or_else(|| damaged(format!("section '{section}' is missing")))?;
            targets.push((obj, key, value));
        }
        let kind = self.kind();
        let by = self.doc.get_actor().to_hex_string();
        let writes_paths: Vec<&str> = writes.iter().map(|(p, _)| *p).collect();
        let outcome = self
            .doc
            .transact_with::<_, _, automerge::AutomergeError, _>(
                |_| CommitOptions::default().with_time(unix_time),
                |tx| {
                    for ((obj, key, value), path) in targets.iter().zip(&writes_paths) {
                        let notes =
                            fields::spec(kind, path).map(|s| s.ty) == Some(FieldType::Notes);
                        if notes {
                            let text = value.as_text().unwrap_or_default();
                            append_entry(tx, obj, key, text, &by, unix_time)?;
                        } else {
                            tx.put(obj, *key, value.to_scalar())?;
                        }
                    }
                    Ok(())
                },
            );
        match outcome {
            Ok(success) => Ok(success.hash),
            Err(f) => Err(damaged(f.error)),
        }
    }

    /// Writes one field.
    pub fn set(
        &mut self,
        author: Author,
        path: &str,
        value: impl Into<FieldValue>,
        unix_time: i64,
    ) -> Result<Option<ChangeHash>> {
        self.set_many(author, &[(path, value.into())], unix_time)
    }

    /// The digest of what a customer signs: every field of the signed sections, in table order.
    /// Stored with the signature; a later edit of any signed field changes it.
    pub fn signed_digest(&self) -> String {
        let mut hasher = Sha256::new();
        for spec in fields::fields(self.kind()) {
            let section = spec.path.split('.').next().unwrap_or_default();
            // Photos are the technician's evidence, not what the customer signs; leaving them
            // out also keeps the digests of forms signed before photos existed.
            if !SIGNED_SECTIONS.contains(&section) || spec.ty == FieldType::Photos {
                continue;
            }
            let value = match self.get(spec.path) {
                Some(FieldValue::Text(t)) => t,
                Some(FieldValue::Int(n)) => n.to_string(),
                None => String::new(),
            };
            hasher.update(spec.path.as_bytes());
            hasher.update([0]);
            hasher.update(value.as_bytes());
            hasher.update([0]);
        }
        hex::encode(hasher.finalize())
    }

    /// True when a signature exists (the customer's on the form or receipt, or on getting the
    /// product back) and a field it covers has changed since it was given.
    pub fn changed_after_signing(&self) -> bool {
        ["signature.signed_digest", "handback.signed_digest"]
            .iter()
            .any(|path| match self.get(path) {
                Some(FieldValue::Text(d)) if !d.is_empty() => d != self.signed_digest(),
                _ => false,
            })
    }
}

/// One entry of a note that grows over time: its text, the actor that wrote it (hex) and when
/// (unix seconds, the device's claim).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoteEntry {
    pub text: String,
    pub by: String,
    pub at: i64,
}

/// A photo of a record (see [`FieldType::Photos`]).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhotoEntry {
    /// The stored JPEG's SHA-256 (lowercase hex).
    pub sha256: String,
    pub bytes: i64,
    pub mime: String,
    pub caption: String,
    /// The actor that added it (hex).
    pub by: String,
    /// When it was taken (unix seconds): the camera's time, else when it was added.
    pub taken_at: i64,
}

/// Appends `text` as an entry of the note at `obj.key`. A schema 1 note (one `Text` object)
/// becomes a list first, its text the first entry, so what was there reads the same.
fn append_entry(
    tx: &mut automerge::transaction::Transaction<'_>,
    obj: &ObjId,
    key: &str,
    text: &str,
    by: &str,
    unix_time: i64,
) -> std::result::Result<(), automerge::AutomergeError> {
    if text.is_empty() {
        return Ok(());
    }
    let list = match tx.get(obj, key)? {
        Some((Value::Object(ObjType::List), id)) => id,
        Some((Value::Object(ObjType::Text), id)) => {
            let old = tx.text(&id)?;
            let list = tx.put_object(obj, key, ObjType::List)?;
            if !old.is_empty() {
                push_entry(tx, &list, &old, "", 0)?;
            }
            list
        }
        _ => tx.put_object(obj, key, ObjType::List)?,
    };
    push_entry(tx, &list, text, by, unix_time)
}

fn push_entry(
    tx: &mut automerge::transaction::Transaction<'_>,
    list: &ObjId,
    text: &str,
    by: &str,
    at: i64,
) -> std::result::Result<(), automerge::AutomergeError> {
    let entry = tx.insert_object(list, tx.length(list), ObjType::Map)?;
    tx.put(&entry, "text", text)?;
    tx.put(&entry, "by", by)?;
    tx.put(&entry, "at", at)?;
    Ok(())
}

/// Sections a customer's signature covers.
pub const SIGNED_SECTIONS: &[&str] = &["request", "form", "fee", "receipt"];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Role;

    fn actor(n: u8) -> ActorId {
        ActorId::from([n; 16])
    }

    #[test]
    fn create_sets_root_and_sections() {
        let id = Uuid::from_u128(7);
        let doc = RecordDoc::create(DocKind::Visit, id, "wuhan", actor(1), 0).unwrap();
        let reloaded = RecordDoc::load(&doc.automerge().save()).unwrap();
        assert_eq!(reloaded.kind(), DocKind::Visit);
        assert_eq!(reloaded.id(), id);
        assert_eq!(reloaded.region(), "wuhan");
        assert_eq!(
            reloaded.get("form.diagnosis"),
            Some(FieldValue::Text(String::new()))
        );
        assert!(reloaded.note_entries("form.diagnosis").is_empty());
    }

    #[test]
    fn device_cannot_write_server_fields_or_bad_values() {
        let mut doc =
            RecordDoc::create(DocKind::Visit, Uuid::from_u128(1), "r", actor(1), 0).unwrap();
        let tech = Author::Device(Role::Technician);
        // Tried: a server path, an unknown path, a clerk path, negative money, a bad choice, a bad date.
        assert!(doc.set(tech, "dispatch.technician", "x", 0).is_err());
        assert!(doc.set(tech, "form.nonsense", "x", 0).is_err());
        assert!(doc.set(tech, "request.customer_name", "x", 0).is_err());
        assert!(doc.set(tech, "form.travel_fen", -5i64, 0).is_err());
        assert!(doc.set(tech, "form.outcome", "gone", 0).is_err());
        assert!(
            doc.set(
                Author::Device(Role::Clerk),
                "request.purchase_date",
                "2026-13-01",
                0
            )
            .is_err()
        );
        let heads = doc.heads();
        assert!(doc.set(tech, "form.travel_fen", 12_000i64, 0).is_ok());
        assert_ne!(heads, doc.heads());
        assert_eq!(doc.get("form.travel_fen"), Some(FieldValue::Int(12_000)));
    }

    #[test]
    fn signature_digest_notices_later_edits() {
        let mut doc =
            RecordDoc::create(DocKind::Visit, Uuid::from_u128(2), "r", actor(1), 0).unwrap();
        let tech = Author::Device(Role::Technician);
        doc.set(tech, "form.diagnosis", "worn belt", 0).unwrap();
        let digest = doc.signed_digest();
        doc.set(tech, "signature.signed_digest", digest, 0).unwrap();
        assert!(!doc.changed_after_signing());
        doc.set(tech, "form.diagnosis", "worn belt and bearing", 0)
            .unwrap();
        assert!(doc.changed_after_signing());
    }

    /// A visit as schema 1 wrote it: every free text an Automerge `Text` object.
    pub(crate) fn schema1_visit(id: Uuid, who: ActorId) -> Automerge {
        let mut doc = Automerge::new().with_actor(who);
        doc.transact::<_, _, automerge::AutomergeError>(|tx| {
            tx.put(ROOT, "type", "visit")?;
            tx.put(ROOT, "schema", 1)?;
            tx.put(ROOT, "id", id.to_string())?;
            tx.put(ROOT, "region", "wuhan")?;
            for section in fields::sections(DocKind::Visit) {
                let obj = tx.put_object(ROOT, section, ObjType::Map)?;
                for spec in fields::fields(DocKind::Visit) {
                    let key = spec
                        .path
                        .strip_prefix(section)
                        .and_then(|r| r.strip_prefix('.'));
                    if let Some(key) = key
                        && matches!(spec.ty, FieldType::Notes | FieldType::Text)
                    {
                        let text = tx.put_object(&obj, key, ObjType::Text)?;
                        if spec.path == "form.diagnosis" {
                            tx.splice_text(&text, 0, 0, "old diagnosis")?;
                        }
                    }
                }
            }
            Ok(())
        })
        .unwrap();
        doc
    }

    #[test]
    fn a_note_grows_by_entries_and_free_text_is_one_string() {
        let mut doc =
            RecordDoc::create(DocKind::Visit, Uuid::from_u128(3), "r", actor(1), 0).unwrap();
        let tech = Author::Device(Role::Technician);
        doc.set(tech, "form.diagnosis", "noise at start", 100)
            .unwrap();
        doc.set(tech, "form.diagnosis", "bearing worn", 200)
            .unwrap();
        doc.set(tech, "form.parts_used", "bearing 6204\nseal", 200)
            .unwrap();
        doc.set(tech, "form.parts_used", "bearing 6205", 300)
            .unwrap();
        let entries = doc.note_entries("form.diagnosis");
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].text, "bearing worn");
        assert_eq!(entries[1].at, 200);
        assert_eq!(entries[1].by, actor(1).to_hex_string());
        assert_eq!(
            doc.get("form.diagnosis"),
            Some(FieldValue::Text("noise at start\nbearing worn".into()))
        );
        assert_eq!(doc.get("form.parts_used"), Some("bearing 6205".into()));
        // No `Text` object anywhere: a visit's notes are a few operations, not one per character.
        let ops: usize = doc
            .automerge()
            .get_changes(&[])
            .iter()
            .map(|c| c.len())
            .sum();
        assert!(ops < 60, "{ops} operations");
        // An entry is replaced, not appended to.
        doc.edit_note_entry(tech, "form.diagnosis", 0, "noise at cold start", 400)
            .unwrap();
        assert_eq!(
            doc.note_entries("form.diagnosis")[0].text,
            "noise at cold start"
        );
        // Tried: an entry that does not exist, a field that is not a note, a clerk, too long.
        assert!(
            doc.edit_note_entry(tech, "form.diagnosis", 5, "x", 0)
                .is_err()
        );
        assert!(
            doc.edit_note_entry(tech, "form.parts_used", 0, "x", 0)
                .is_err()
        );
        let clerk = Author::Device(Role::Clerk);
        assert!(
            doc.edit_note_entry(clerk, "form.diagnosis", 0, "x", 0)
                .is_err()
        );
        let long = "长".repeat(fields::TEXT_MAX_CHARS + 1);
        assert!(doc.set(tech, "form.diagnosis", long.as_str(), 0).is_err());
        assert!(doc.set(tech, "form.parts_used", long.as_str(), 0).is_err());
        assert_eq!(
            doc.note_entries("form.diagnosis").len(),
            2,
            "nothing written"
        );
    }

    #[test]
    fn two_devices_appending_offline_both_keep_their_lines_in_one_order() {
        let tech = Author::Device(Role::Technician);
        let base = RecordDoc::create(DocKind::Visit, Uuid::from_u128(4), "r", actor(1), 0).unwrap();
        let mut a = RecordDoc::load(&base.automerge().save()).unwrap();
        a.set_actor(actor(2));
        let mut b = RecordDoc::load(&base.automerge().save()).unwrap();
        b.set_actor(actor(3));
        a.set(tech, "form.work_done", "replaced the belt", 10)
            .unwrap();
        b.set(tech, "form.work_done", "tested under load", 11)
            .unwrap();
        let mut ab = a.clone();
        ab.automerge_mut().merge(b.automerge_mut()).unwrap();
        let mut ba = b.clone();
        ba.automerge_mut().merge(a.automerge_mut()).unwrap();
        let lines = |d: &RecordDoc| {
            d.note_entries("form.work_done")
                .into_iter()
                .map(|e| e.text)
                .collect::<Vec<_>>()
        };
        assert_eq!(lines(&ab).len(), 2);
        assert_eq!(lines(&ab), lines(&ba), "the same order on both sides");
        assert!(lines(&ab).contains(&"replaced the belt".to_string()));
        assert!(lines(&ab).contains(&"tested under load".to_string()));
        // Two edits of one entry at once stay visible as a conflict.
        let mut c = ab.clone();
        c.set_actor(actor(4));
        let mut d = ab.clone();
        d.set_actor(actor(5));
        c.edit_note_entry(tech, "form.work_done", 0, "one", 20)
            .unwrap();
        d.edit_note_entry(tech, "form.work_done", 0, "two", 21)
            .unwrap();
        c.automerge_mut().merge(d.automerge_mut()).unwrap();
        let list = c
            .section("form")
            .and_then(|f| c.doc.get(&f, "work_done").unwrap())
            .unwrap()
            .1;
        let entry = c.doc.get(&list, 0).unwrap().unwrap().1;
        assert_eq!(c.doc.get_all(&entry, "text").unwrap().len(), 2);
    }

    #[test]
    fn a_schema_1_document_reads_the_same_and_its_note_becomes_entries_when_written() {
        let id = Uuid::from_u128(5);
        let mut doc = RecordDoc::from_automerge(schema1_visit(id, actor(1))).unwrap();
        assert_eq!(doc.get("form.diagnosis"), Some("old diagnosis".into()));
        let digest = doc.signed_digest();
        assert_eq!(doc.note_entries("form.diagnosis").len(), 1);
        let tech = Author::Device(Role::Technician);
        doc.set(tech, "form.parts_used", "belt", 10).unwrap();
        assert_eq!(doc.get("form.parts_used"), Some("belt".into()));
        doc.set(tech, "form.diagnosis", "and the bearing", 10)
            .unwrap();
        assert_eq!(
            doc.get("form.diagnosis"),
            Some("old diagnosis\nand the bearing".into())
        );
        assert_ne!(digest, doc.signed_digest());
    }
}
