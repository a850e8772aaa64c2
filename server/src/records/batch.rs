//! A device's sync batch as a pipeline of named steps: load, decide, decide again under the
//! lock, gather the database's facts and judge them, project and write, commit.

use super::decide::*;
use super::*;

/// Complaint forms a salesperson submitted from a device become cases waiting for quality
/// (§4.6.1); a form already known as a case is left alone.
/// The complaint cases that forms synced in this batch file, received by the office at
/// `received`; the device's own `submitted_at` is kept beside it as a claim.
pub(super) fn submitted_complaints(
    writes: &[DocWrite],
    received: chrono::DateTime<chrono::Utc>,
) -> Vec<crate::workflow::complaint::Case> {
    writes
        .iter()
        .filter(|w| w.kind == fieldloop_client_core::model::DocKind::Complaint)
        .filter_map(|w| {
            let field = |path: &str| w.fields.iter().find(|f| f.path == path);
            let submitted = field("form.submitted_at")?;
            let at = chrono::DateTime::parse_from_rfc3339(&submitted.value)
                .ok()?
                .with_timezone(&chrono::Utc);
            let claimed = field("form.claimed_fen")
                .and_then(|f| f.value_int)
                .unwrap_or(0);
            let severe = field("form.severity").is_some_and(|f| f.value == "severe");
            let original = field("form.original_case").and_then(|f| Uuid::parse_str(&f.value).ok());
            let mut case = crate::workflow::complaint::Case::filed(
                w.id,
                &w.region,
                w.created_by,
                received,
                claimed,
                severe,
                original,
            );
            case.device_submitted_at = Some(at);
            case.access_code = hex::encode(rand::random::<[u8; 12]>());
            Some(case)
        })
        .collect()
}

/// For a complaint form synced as a follow-up of an earlier case (§4.6.8) that is not a case
/// yet: whether its original may take a rejection (closed, and not rejected by another form
/// already), `Some(open to it)`, or `None` when the filer may see no such case. `None`
/// outside: not such a form.
pub(super) async fn follow_up_of(
    tx: &mut Tx,
    principal: &Principal,
    write: &DocWrite,
) -> AppResult<Option<Option<bool>>> {
    use crate::db::complaints::load_case;
    if write.kind != fieldloop_client_core::model::DocKind::Complaint
        || field_of(write, "form.submitted_at").is_none()
    {
        return Ok(None);
    }
    let Some(original) = field_of(write, "form.original_case") else {
        return Ok(None);
    };
    if load_case(tx, write.id).await?.is_some() {
        return Ok(None);
    }
    let stored = match Uuid::parse_str(&original) {
        Ok(id) => load_case(tx, id).await?,
        Err(_) => None,
    };
    Ok(Some(
        stored
            .filter(|c| principal.sees(&c.case.region, c.case.filed_by, None))
            .map(|c| {
                c.case.state == crate::workflow::complaint::CaseState::Closed
                    && !c.case.followups.iter().any(|f| *f != write.id)
            }),
    ))
}

/// Adds `follow_up` to the original case's follow-ups (§4.6.8), again on the case as it now is
/// if an office action changed it meanwhile.
pub(super) async fn link_follow_up(
    tx: &mut Tx,
    original: Uuid,
    follow_up: Uuid,
    at: i64,
) -> AppResult<()> {
    use crate::db::complaints::{load_case, update_case};
    for _ in 0..3 {
        let Some(mut stored) = load_case(tx, original).await? else {
            return Ok(());
        };
        if stored.case.followups.contains(&follow_up) {
            return Ok(());
        }
        stored.case.followups.push(follow_up);
        if update_case(tx, &stored.case, stored.version, at).await? {
            return Ok(());
        }
    }
    Err(AppError::new(
        ErrorCode::Stale,
        "the original case keeps changing meanwhile; sync again",
    ))
}

/// Checks a sync request's shape before anything is stored.
pub fn validate_request(request: &SyncRequest) -> AppResult<()> {
    use fieldloop_client_core::wire::MAX_DOCS_PER_SYNC;
    if request.docs.len() > MAX_DOCS_PER_SYNC {
        return Err(AppError::invalid(format!(
            "a sync request carries at most {MAX_DOCS_PER_SYNC} documents, this one {}",
            request.docs.len()
        )));
    }
    let mut ids: Vec<Uuid> = request.docs.iter().map(|d| d.id).collect();
    ids.sort();
    if ids.windows(2).any(|w| w[0] == w[1]) {
        return Err(AppError::invalid(
            "a document appears twice in one sync request",
        ));
    }
    for doc in &request.docs {
        for head in &doc.heads {
            if head.parse::<automerge::ChangeHash>().is_err() {
                return Err(AppError::invalid(format!("'{head}' is not a change hash")));
            }
        }
    }
    Ok(())
}

/// Runs one sync batch from `device` (already checked to belong to `principal`). All accepted
/// documents are stored in one transaction, which is also the feed's order.
///
/// The batch runs as a pipeline of named steps: [`load_batch`] (stored rows and first pulls),
/// `decide_all` (visibility and the pure merge plan, on the blocking pool, without the write
/// lock), [`redecide_stale`] (under the lock, what another batch changed meanwhile),
/// [`check_facts`] (the database's facts gathered, then judged by the pure [`post_check`]:
/// blobs, receipt numbers, open campaigns, follow-ups), then [`project_and_write`]
/// (documents, projections, feed positions) and commit.
pub async fn sync_batch(
    state: &AppState,
    principal: &Principal,
    device: &Device,
    request: SyncRequest,
) -> AppResult<SyncResponse> {
    validate_request(&request)?;
    let actor: automerge::ActorId = device
        .actor_id
        .parse()
        .map_err(|_| AppError::internal("a device's stored actor id is damaged"))?;
    // A device already in sync asks with nothing: the answer needs no transaction.
    if request.docs.is_empty() {
        return Ok(SyncResponse {
            docs: Vec::new(),
            server_time: state.now().to_rfc3339(),
        });
    }
    let batch = Batch {
        state,
        principal,
        actor: &actor,
        author: Author::Device(principal.role),
        // The feed position is given when the batch is written.
        writer: Writer {
            user: principal.user_id,
            device: Some(device.id),
            seq: 0,
        },
    };
    let writes = request.docs.iter().any(|d| !d.changes.is_empty());
    let pushed: std::collections::HashSet<Uuid> = request
        .docs
        .iter()
        .filter(|d| !d.changes.is_empty())
        .map(|d| d.id)
        .collect();
    let t0 = crate::clock::monotonic();
    let loaded = load_batch(state, request).await?;
    let t1 = t0.elapsed();
    let mut decided = decide_all(&batch, loaded.jobs, false).await?;
    let mut tx = if writes {
        state.db.begin_write().await?
    } else {
        crate::db::WriteTx::without_turn(state.db.pool.begin().await?)
    };
    // Taking the feed position first serialises writers: each sees the one before it.
    let seq = if writes {
        next_counter(&mut tx, "feed").await?
    } else {
        0
    };
    if writes {
        redecide_stale(&batch, &mut tx, &mut decided, &loaded.pushes, &loaded.seen).await?;
    }
    let t2 = t0.elapsed();
    let checked = check_facts(&mut tx, principal, decided).await?;
    let t3 = t0.elapsed();
    let stored_any = !checked.stored.is_empty();
    let kept = if stored_any {
        project_and_write(state, &mut tx, seq, checked.stored).await?
    } else {
        Vec::new()
    };
    let t4 = t0.elapsed();
    if stored_any {
        tx.commit().await?;
        for ((id, seq), doc) in kept {
            state.docs.put(id, seq, doc);
        }
        tracing::debug!(
            docs = checked.replies.len(),
            load = ?t1,
            decide = ?t2,
            blobs = ?t3,
            write = ?t4,
            commit = ?t0.elapsed(),
            "sync batch stored"
        );
    } else {
        tx.rollback().await?;
    }
    if writes {
        count_outcomes(state, &pushed, &checked.replies);
        state
            .metrics
            .histogram(crate::metrics::MERGE_SECONDS, &[])
            .record(t0.elapsed().as_secs_f64());
    }
    Ok(SyncResponse {
        docs: checked.replies,
        server_time: state.now().to_rfc3339(),
    })
}

/// Counts the documents a device sent with changes by what became of them.
fn count_outcomes(
    state: &AppState,
    pushed: &std::collections::HashSet<Uuid>,
    replies: &[DocReply],
) {
    let (mut accepted, mut refused) = (0u64, 0u64);
    for reply in replies.iter().filter(|r| pushed.contains(&r.id)) {
        match reply.verdict {
            Verdict::Accepted => accepted += 1,
            Verdict::Rejected { .. } => refused += 1,
        }
    }
    for (outcome, n) in [("accepted", accepted), ("refused", refused)] {
        state
            .metrics
            .counter(crate::metrics::SYNC_DOCUMENTS, &[("outcome", outcome)])
            .increment(n);
    }
}

/// What every decision of one batch is made with.
pub(super) struct Batch<'a> {
    pub(super) state: &'a AppState,
    pub(super) principal: &'a Principal,
    pub(super) actor: &'a ActorId,
    pub(super) author: Author,
    pub(super) writer: Writer,
}

/// A batch as loaded: one job per sent document, the stored version (`seq`) each was decided
/// at, and the documents that carry changes.
pub(super) struct Loaded {
    jobs: Vec<Job>,
    seen: HashMap<Uuid, i64>,
    pushes: HashMap<Uuid, DocPush>,
}

/// Loads the stored rows of a batch's documents in one read transaction that takes no write
/// lock: batches arriving together (a thousand technicians regaining signal) load and decide
/// on every core at once.
pub(super) async fn load_batch(state: &AppState, request: SyncRequest) -> AppResult<Loaded> {
    let ids: Vec<Uuid> = request.docs.iter().map(|d| d.id).collect();
    let mut read = state.db.pool.begin().await?;
    let mut rows = load_docs(&mut read, &ids).await?;
    read.rollback().await?;
    let seen: HashMap<Uuid, i64> = rows.iter().map(|(id, r)| (*id, r.seq)).collect();
    let pushes: HashMap<Uuid, DocPush> = request
        .docs
        .iter()
        .filter(|d| !d.changes.is_empty())
        .map(|d| (d.id, d.clone()))
        .collect();
    let jobs: Vec<Job> = request
        .docs
        .into_iter()
        .map(|push| {
            let row = rows.remove(&push.id);
            Job::new(push, row, &state.docs)
        })
        .collect();
    Ok(Loaded { jobs, seen, pushes })
}

/// Under the write lock: a document another batch wrote while this one decided is decided
/// again on the row as it now is, whatever the first verdict was.
pub(super) async fn redecide_stale(
    batch: &Batch<'_>,
    tx: &mut Tx,
    decided: &mut [Decided],
    pushes: &HashMap<Uuid, DocPush>,
    seen: &HashMap<Uuid, i64>,
) -> AppResult<()> {
    let sent: Vec<Uuid> = pushes.keys().copied().collect();
    let now = doc_seqs(tx, &sent).await?;
    let stale: Vec<Uuid> = decided
        .iter()
        .map(Decided::id)
        .filter(|id| pushes.contains_key(id) && now.get(id) != seen.get(id))
        .collect();
    if stale.is_empty() {
        return Ok(());
    }
    let mut fresh = load_docs(tx, &stale).await?;
    let jobs: Vec<Job> = stale
        .iter()
        .filter_map(|id| {
            pushes
                .get(id)
                .map(|p| Job::new(p.clone(), fresh.remove(id), &batch.state.docs))
        })
        .collect();
    let mut again = decide_all(batch, jobs, true).await?.into_iter();
    for d in decided.iter_mut() {
        if stale.contains(&d.id())
            && let Some(redone) = again.next()
        {
            *d = redone;
        }
    }
    Ok(())
}

/// The batch after the rules that need the database: the answer for every document, and the
/// accepted ones to store with their merged documents.
pub(super) struct Checked {
    replies: Vec<DocReply>,
    stored: Vec<(DocWrite, Arc<Automerge>)>,
}

/// Checks what the pure merge cannot know: every referenced blob was uploaded, a receipt
/// number is used once (§2.5), answers go to open campaigns (§3.1), a follow-up complaint
/// follows a closed case its filer may see (§4.6.8). The database's answers are gathered
/// first ([`gather_facts`]), then judged by the pure [`post_check`]. A document that fails one
/// is refused whole.
pub(super) async fn check_facts(
    tx: &mut Tx,
    principal: &Principal,
    decided: Vec<Decided>,
) -> AppResult<Checked> {
    let mut replies = Vec::with_capacity(decided.len());
    let mut stored: Vec<(DocWrite, Arc<Automerge>)> = Vec::new();
    let mut numbers: Vec<String> = Vec::new();
    for d in decided {
        match d {
            Decided::Reply(r) => replies.push(*r),
            Decided::Accept {
                new_blob,
                write,
                accepted,
                existing,
                heads,
                merged,
            } => {
                let facts = gather_facts(tx, principal, &new_blob, &write).await?;
                if let Some(refusal) = post_check(&facts, &numbers) {
                    tracing::info!(doc = %write.id, %refusal, "document refused");
                    replies.push(reply(
                        write.id,
                        Verdict::Rejected { refusal },
                        existing.as_deref(),
                        &heads,
                    ));
                } else {
                    numbers.extend(facts.receipt_number);
                    stored.push((*write, merged));
                    replies.push(accepted);
                }
            }
        }
    }
    Ok(Checked { replies, stored })
}

/// What the database says about one accepted document, for the rules of [`post_check`].
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Facts {
    /// Blobs the document newly refers to that were never uploaded: (path, sha256).
    missing_blobs: Vec<(&'static str, String)>,
    /// The receipt number the document carries, and whether another receipt has it.
    receipt_number: Option<String>,
    receipt_number_taken: bool,
    /// The document answers a survey campaign that is closed.
    campaign_closed: bool,
    /// For a complaint form filed against an earlier case (§4.6.8), not yet a case itself: the
    /// original as the filer may see it, `Some(open to a rejection)` (closed, and its
    /// conclusion not rejected yet), or `None` when there is none to see.
    follow_up_of: Option<Option<bool>>,
}

/// Asks the database what [`post_check`] needs to know about `write`.
pub(super) async fn gather_facts(
    tx: &mut Tx,
    principal: &Principal,
    new_blob: &[(&'static str, String)],
    write: &DocWrite,
) -> AppResult<Facts> {
    let mut facts = Facts::default();
    for (path, sha) in new_blob {
        if !blob_exists(tx, sha).await? {
            facts.missing_blobs.push((path, sha.clone()));
        }
    }
    if let Some(number) = receipt_number(write) {
        facts.receipt_number_taken = receipt_number_taken(tx, &number, write.id).await?;
        facts.receipt_number = Some(number);
    }
    if let Some(campaign) = field_of(write, "answer.campaign_id") {
        facts.campaign_closed = !crate::db::feedback::campaign_open(tx, &campaign).await?;
    }
    facts.follow_up_of = follow_up_of(tx, principal, write).await?;
    Ok(facts)
}

/// The first rule that `facts` show broken, if any. `earlier` are the receipt numbers of the
/// documents of the same batch already accepted.
pub(super) fn post_check(facts: &Facts, earlier: &[String]) -> Option<Refusal> {
    if let Some((path, sha)) = facts.missing_blobs.first() {
        return Some(Refusal::new(
            RefusalCode::MissingBlob,
            *path,
            format!(
                "blob {sha} has not been uploaded; upload it before the change that refers to it"
            ),
        ));
    }
    // §2.5: a receipt number is given once; a device that reuses one is refused.
    if let Some(number) = &facts.receipt_number
        && (facts.receipt_number_taken || earlier.contains(number))
    {
        return Some(Refusal::new(
            RefusalCode::RuleBroken,
            "receipt.number",
            format!("receipt number {number} is already used by another receipt"),
        ));
    }
    // §3.1: answers go to open campaigns only.
    if facts.campaign_closed {
        return Some(Refusal::new(
            RefusalCode::RuleBroken,
            "answer.campaign_id",
            "this survey campaign is closed; it takes no more answers",
        ));
    }
    // §4.6.8: a new form filed because the customer rejected a conclusion follows a closed
    // case its filer may see, as one filed at the office does.
    let refuse = |message: &str| {
        Some(Refusal::new(
            RefusalCode::RuleBroken,
            "form.original_case",
            message,
        ))
    };
    match facts.follow_up_of {
        None | Some(Some(true)) => None,
        Some(Some(false)) => refuse(
            "the original case is still open, or its conclusion was already rejected: a closed case's conclusion is rejected once (§4.6.8)",
        ),
        Some(None) => refuse("there is no complaint case with that number that you may see"),
    }
}

/// Stores the accepted documents with one feed position each from `seq` on, in order (so a
/// feed page can end anywhere in a batch), and their projections: feedback items, complaint
/// cases (linked to the case they follow), receipts with their first custody step. Returns the
/// merged documents with their new positions, for the cache once the transaction commits.
pub(super) async fn project_and_write(
    state: &AppState,
    tx: &mut Tx,
    seq: i64,
    stored: Vec<(DocWrite, Arc<Automerge>)>,
) -> AppResult<Vec<((Uuid, i64), Arc<Automerge>)>> {
    let (mut writes, built): (Vec<DocWrite>, Vec<Arc<Automerge>>) = stored.into_iter().unzip();
    let received = state.now();
    let cases = submitted_complaints(&writes, received);
    let receipts: Vec<SyncedReceipt> = writes.iter().filter_map(synced_receipt).collect();
    let feedback: Vec<crate::db::feedback::NewItem> = writes
        .iter()
        .filter_map(|w| feedback_item(w, received))
        .collect();
    if writes.len() > 1 {
        crate::db::advance_counter(tx, "feed", writes.len() as i64 - 1).await?;
    }
    for (i, w) in writes.iter_mut().enumerate() {
        w.seq = seq + i as i64;
    }
    let kept = writes.iter().map(|w| (w.id, w.seq)).zip(built).collect();
    let at = received.timestamp_millis();
    write_docs(tx, writes, at).await?;
    for item in feedback {
        crate::db::feedback::insert_item(tx, &item).await?;
    }
    for case in cases {
        if crate::db::complaints::insert_case(tx, &case, at).await?
            && let Some(original) = case.original
        {
            link_follow_up(tx, original, case.id, at).await?;
        }
    }
    for receipt in receipts {
        if crate::db::service::upsert_receipt(tx, &receipt, at).await? {
            crate::db::service::custody_event(
                tx,
                receipt.id,
                "issued",
                "with_technician",
                receipt.technician,
                "",
                at,
            )
            .await?;
        }
    }
    Ok(kept)
}

/// The receipt a synced document registers, if it is one with a number.
pub(super) fn synced_receipt(w: &DocWrite) -> Option<SyncedReceipt> {
    Some(SyncedReceipt {
        id: w.id,
        number: receipt_number(w)?,
        region: w.region.clone(),
        technician: w.created_by,
        promised_date: w
            .fields
            .iter()
            .find(|f| f.path == "receipt.promised_date")
            .map(|f| f.value.clone()),
        visit_id: field_of(w, "receipt.visit_id"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(facts: &Facts, earlier: &[String]) -> Option<(RefusalCode, String)> {
        post_check(facts, earlier).map(|r| (r.code, r.path))
    }

    #[test]
    fn post_checks_refuse_what_the_facts_show_in_order() {
        assert_eq!(code(&Facts::default(), &[]), None);
        let number = Some("R-1".to_string());
        let reused = Facts {
            receipt_number: number.clone(),
            ..Facts::default()
        };
        assert_eq!(code(&reused, &[]), None, "a fresh number is fine");
        assert_eq!(
            code(&reused, &["R-1".into()]),
            Some((RefusalCode::RuleBroken, "receipt.number".into())),
            "the same number twice in one batch"
        );
        let taken = Facts {
            receipt_number: number,
            receipt_number_taken: true,
            ..Facts::default()
        };
        assert_eq!(
            code(&taken, &[]),
            Some((RefusalCode::RuleBroken, "receipt.number".into()))
        );
        // A missing blob is reported first, whatever else is wrong.
        let everything = Facts {
            missing_blobs: vec![("signature.blob_sha256", "ab".repeat(32))],
            campaign_closed: true,
            follow_up_of: Some(None),
            ..taken
        };
        assert_eq!(
            code(&everything, &[]),
            Some((RefusalCode::MissingBlob, "signature.blob_sha256".into()))
        );
        let closed = Facts {
            campaign_closed: true,
            ..Facts::default()
        };
        assert_eq!(
            code(&closed, &[]),
            Some((RefusalCode::RuleBroken, "answer.campaign_id".into()))
        );
        for (of, refused) in [
            (Some(Some(true)), false),
            (Some(Some(false)), true),
            (Some(None), true),
        ] {
            let facts = Facts {
                follow_up_of: of,
                ..Facts::default()
            };
            assert_eq!(code(&facts, &[]).is_some(), refused, "{of:?}");
        }
    }
}
