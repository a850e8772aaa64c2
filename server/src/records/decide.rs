//! Deciding one document of a batch: visibility, then the pure merge plan, on the blocking
//! pool (at most one deciding task per core).

use super::batch::Batch;
use super::*;

#[allow(clippy::large_enum_variant)]
pub(super) enum Decided {
    Reply(Box<DocReply>),
    Accept {
        /// A blob the merge newly refers to, to check before storing.
        new_blob: Vec<(&'static str, String)>,
        write: Box<DocWrite>,
        accepted: DocReply,
        existing: Option<Arc<Automerge>>,
        heads: Vec<String>,
        /// The merged document, kept built once it is stored.
        merged: Arc<Automerge>,
    },
}

impl Decided {
    pub(super) fn id(&self) -> Uuid {
        match self {
            Decided::Reply(r) => r.id,
            Decided::Accept { write, .. } => write.id,
        }
    }
}

/// Who is writing a batch, as its rows record it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Writer {
    pub(super) user: Uuid,
    pub(super) device: Option<Uuid>,
    pub(super) seq: i64,
}

/// Decides one document: visibility, then the pure merge plan. CPU only.
pub(super) fn decide(
    job: Job,
    principal: &Principal,
    actor: &ActorId,
    author: Author,
    writer: Writer,
    zone: chrono_tz::Tz,
) -> Result<Decided, AppError> {
    let Job { push, row, cached } = job;
    if row
        .as_ref()
        .is_some_and(|r| !principal.sees(&r.region, r.created_by, r.assignee))
    {
        let refusal = Refusal::new(
            RefusalCode::NotVisible,
            "",
            "this record is not yours to see or change",
        );
        return Ok(Decided::Reply(Box::new(reply(
            push.id,
            Verdict::Rejected { refusal },
            None,
            &[],
        ))));
    }
    let existing = match (cached, &row) {
        (Some(doc), _) => Some(doc),
        (None, Some(row)) => Some(Arc::new(load_automerge(row)?)),
        (None, None) => None,
    };
    let raw: Vec<Vec<u8>> = push.changes.into_iter().map(|b| b.0).collect();
    let refusal = match plan(push.id, existing.as_deref(), &raw, actor, author, zone) {
        Plan::Unchanged if existing.is_none() => {
            Refusal::new(RefusalCode::NotVisible, "", "no such record")
        }
        Plan::Unchanged => {
            return Ok(Decided::Reply(Box::new(reply(
                push.id,
                Verdict::Accepted,
                existing.as_deref(),
                &push.heads,
            ))));
        }
        Plan::Reject(refusal) => refusal,
        Plan::Accept {
            doc,
            new_changes,
            is_new,
        } => {
            if is_new
                && !fieldloop_client_core::model::roles::may_create(principal.role, doc.kind())
            {
                Refusal::new(
                    RefusalCode::ForbiddenPath,
                    "type",
                    format!(
                        "complaint forms are filed by marketing (§4.6.1), not by a {}",
                        principal.role.code()
                    ),
                )
            } else if is_new && !principal.may_create_in(doc.region()) {
                Refusal::new(
                    RefusalCode::NotVisible,
                    "region",
                    format!(
                        "you may create records in your own region only, not in '{}'",
                        doc.region()
                    ),
                )
            } else {
                let write = prepare(
                    row.as_ref(),
                    &doc,
                    &new_changes,
                    writer.user,
                    writer.device,
                    writer.seq,
                );
                return Ok(Decided::Accept {
                    new_blob: new_blob_ref(existing.as_deref(), &doc),
                    write: Box::new(write),
                    accepted: reply(
                        push.id,
                        Verdict::Accepted,
                        Some(doc.automerge()),
                        &push.heads,
                    ),
                    existing,
                    heads: push.heads,
                    merged: Arc::new(doc.into_automerge()),
                });
            }
        }
    };
    tracing::info!(doc = %push.id, %refusal, "document refused");
    Ok(Decided::Reply(Box::new(reply(
        push.id,
        Verdict::Rejected { refusal },
        existing.as_deref(),
        &push.heads,
    ))))
}

/// One document of a batch to decide.
pub(super) struct Job {
    /// What the device sent.
    pub(super) push: DocPush,
    /// The stored row, if the server has the document.
    pub(super) row: Option<DocRow>,
    /// The stored document already built, if the cache keeps it at the row's position.
    pub(super) cached: Option<Arc<Automerge>>,
}

impl Job {
    pub(super) fn new(
        push: DocPush,
        row: Option<DocRow>,
        cache: &crate::doc_cache::DocCache,
    ) -> Job {
        let cached = row.as_ref().and_then(|r| cache.get(r.id, r.seq));
        Job { push, row, cached }
    }
}

/// Decides a batch on the blocking pool, two halves at once (loading and diffing documents is
/// the CPU-heavy part of a sync). Results keep the request's order.
pub(super) async fn decide_all(
    batch: &Batch<'_>,
    jobs: Vec<Job>,
    under_lock: bool,
) -> AppResult<Vec<Decided>> {
    let Batch {
        state,
        principal,
        actor,
        author,
        writer,
    } = *batch;
    let zone = state.config.timezone;
    let half = jobs.len().div_ceil(2).max(8);
    let mut tasks = Vec::new();
    let mut jobs = jobs.into_iter().peekable();
    while jobs.peek().is_some() {
        let part: Vec<_> = jobs.by_ref().take(half).collect();
        let (p, a) = (principal.clone(), actor.clone());
        // At most one deciding task per core: fifty batches deciding at once would otherwise
        // starve the one batch that holds the write lock. That batch, deciding again under the
        // lock, does not queue behind them.
        let slot = if under_lock {
            None
        } else {
            Some(
                state
                    .deciders
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(AppError::internal)?,
            )
        };
        tasks.push(tokio::task::spawn_blocking(move || {
            let _slot = slot;
            part.into_iter()
                .map(|job| decide(job, &p, &a, author, writer, zone))
                .collect::<Result<Vec<_>, _>>()
        }));
    }
    let mut out = Vec::new();
    for task in tasks {
        out.extend(task.await.map_err(AppError::internal)??);
    }
    Ok(out)
}
