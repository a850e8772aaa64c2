//! Devices' sync: a batch of changes both ways (`records::sync_batch`, for a device registered
//! to the caller and not revoked), and the feed of what changed.

use fieldloop_client_core::wire::heads_from_text;
use fieldloop_client_core::wire::{FeedItem, FeedPage, SyncRequest, SyncResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::AppState;
use crate::access::Principal;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::records::sync_batch;

/// Runs a device's sync batch, once the device (as read with the caller's access, `None` if
/// it is not registered) is known to be the caller's and not revoked.
pub async fn sync(
    state: &AppState,
    p: &Principal,
    device: Option<crate::db::accounts::Device>,
    request: SyncRequest,
) -> AppResult<SyncResponse> {
    let device = device
        .filter(|d| d.id == request.device_id && d.user_id == p.user_id)
        .ok_or_else(|| {
            AppError::forbidden("this device is not registered to you")
                .with_zh(Some("此手机未登记在您名下".into()))
        })?;
    if device.revoked {
        return Err(AppError::new(
            ErrorCode::DeviceRevoked,
            "this device has been revoked",
        ));
    }
    sync_batch(state, p, &device, request).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// The cursor from the previous page; 0 for the beginning.
    #[serde(default)]
    pub after: i64,
    /// Items per page, 1 to 5000 (default 1000).
    pub limit: Option<i64>,
}

/// The documents visible to the caller that changed after `after`, in the order they changed.
pub async fn feed(state: &AppState, p: &Principal, q: FeedQuery) -> AppResult<FeedPage> {
    let limit = q.limit.unwrap_or(1000);
    if !(1..=5000).contains(&limit) || q.after < 0 {
        return Err(
            AppError::invalid("limit is 1 to 5000 and after is 0 or more")
                .with_zh(Some("limit 须为 1 到 5000,after 须不小于 0".into())),
        );
    }
    let mut rows = state.db.feed(&p.scope(), q.after, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let cursor = rows.last().map(|r| r.seq).unwrap_or(q.after);
    Ok(FeedPage {
        items: rows
            .into_iter()
            .map(|r| FeedItem {
                id: r.id,
                kind: r.kind,
                seq: r.seq,
                heads: heads_from_text(&r.heads)
                    .iter()
                    .map(|h| h.to_string())
                    .collect(),
            })
            .collect(),
        cursor,
        more,
    })
}
