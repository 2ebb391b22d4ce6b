//! A developer's lifecycle (admin): state changes through the state machine, renames,
//! deletion, and the developer listing.

use serde::Deserialize;
use uuid::Uuid;

pub use crate::access::developer_for;
use crate::domain::*;
use crate::error::AppError;
use crate::fields::{parse_limit, Fields};
use crate::store::*;

/// The result of a state change.
#[derive(Debug)]
pub enum Changed {
    /// The developer as stored afterwards.
    Updated(Developer),
    /// Rejected with `reject_action: delete`: the account is gone; this is its last state.
    Deleted(Developer),
}

impl Changed {
    pub fn developer(&self) -> &Developer {
        match self {
            Self::Updated(d) | Self::Deleted(d) => d,
        }
    }
}

/// Why a change was not made, by type: the state machine refused it, or another write got
/// there first (of two racing decisions exactly one wins).
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("{0}: the lifecycle does not allow this transition")]
    Forbidden(ForbiddenTransition),
    #[error("the developer was changed by another request; read it again and retry")]
    LostRace,
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ChangeError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => Self::LostRace,
            e => Self::Store(e),
        }
    }
}

impl From<ChangeError> for AppError {
    fn from(e: ChangeError) -> Self {
        match e {
            ChangeError::Forbidden(_) | ChangeError::LostRace => AppError::Conflict(e.to_string()),
            ChangeError::Store(e) => e.into(),
        }
    }
}

/// Moves a developer to `to` (and optionally renames), atomically with the approval request,
/// the per-state counters and the lifecycle event. Conditional on the version read, so of two
/// racing decisions exactly one wins and the other gets [`ChangeError::LostRace`].
#[allow(clippy::too_many_arguments)] // the one state change of every path; its callers name each argument
pub async fn change_developer<S: DeveloperStore>(
    store: &S,
    dev: Developer,
    to: Option<DeveloperState>,
    name: Option<PersonName>,
    actor: &Actor,
    reason: Option<String>,
    reject_action: RejectAction,
    now: Timestamp,
) -> Result<Changed, ChangeError> {
    change_developer_kept(store, dev, to, name, actor, reason, reject_action, None, now).await
}

/// [`change_developer`] whose events are kept `retention_days` (the portal's
/// `audit_retention_days`, where the caller read the portal; none: the default).
#[allow(clippy::too_many_arguments)] // as change_developer, and the retention
#[tracing::instrument(skip_all, fields(portal_id = %dev.portal_id, developer_id = %dev.id, to = ?to))]
pub async fn change_developer_kept<S: DeveloperStore>(
    store: &S,
    dev: Developer,
    to: Option<DeveloperState>,
    name: Option<PersonName>,
    actor: &Actor,
    reason: Option<String>,
    reject_action: RejectAction,
    retention_days: Option<u16>,
    now: Timestamp,
) -> Result<Changed, ChangeError> {
    let mut after = dev.clone().bumped(now);
    if let Some(n) = &name {
        after.name = n.as_str().to_string();
    }
    let mut close_approval = None;
    let mut open_approval = None;
    let mut event = None;
    if let Some(to) = to {
        let t = lifecycle::transition(dev.state, to).map_err(ChangeError::Forbidden)?;
        after.state = t.to;
        if t.from == DeveloperState::Approved {
            // Leaving approved ends every session at once.
            after.session_epoch += 1;
        }
        if t.from == DeveloperState::Pending {
            if let Some(aid) = dev.approval_id {
                close_approval = Some(ApprovalDecision {
                    approval_id: aid,
                    status: if t.to == DeveloperState::Approved { ApprovalStatus::Accepted } else { ApprovalStatus::Rejected },
                    decided_by: actor.0.clone(),
                    decided_at: now,
                });
            }
            after.approval_id = None;
        }
        if t.to == DeveloperState::Pending {
            let aid = Uuid::now_v7();
            after.approval_id = Some(aid);
            after.approval_ids.push(aid);
            open_approval = Some(Approval::for_registration(&after, now));
        }
        let mut e = LifecycleEvent::new(EventType::entering(t.to), &after, actor.clone(), now);
        e.from_state = Some(t.from);
        e.to_state = Some(t.to);
        e.approval_id = dev.approval_id.or(after.approval_id);
        e.reason = reason.clone();
        e.retention_days = retention_days;
        event = Some(e);

        if t.to == DeveloperState::Rejected && reject_action == RejectAction::Delete {
            let mut e = LifecycleEvent::new(EventType::Deleted, &after, actor.clone(), now);
            e.from_state = Some(t.from);
            e.reason = Some("rejected with reject_action delete".into());
            e.retention_days = retention_days;
            store.delete_developer(&dev, &e).await?;
            return Ok(Changed::Deleted(after));
        }
    } else if name.is_some() {
        let mut e = LifecycleEvent::new(EventType::Updated, &after, actor.clone(), now);
        e.from_state = Some(dev.state);
        e.to_state = Some(dev.state);
        e.retention_days = retention_days;
        event = Some(e);
    }
    let change = DeveloperChange { keep_session: None, consume_link: None, before: dev, after, close_approval, open_approval, event };
    store.change_developer(&change).await?;
    Ok(Changed::Updated(change.after))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeveloperPatch {
    pub status: Option<String>,
    pub state: Option<String>,
    pub name: Option<String>,
}

#[tracing::instrument(skip_all, fields(portal_id = %portal_id, developer_id = %id))]
pub async fn patch_developer<S: DeveloperStore + PortalStore>(
    store: &S,
    token: &AdminToken,
    portal_id: Uuid,
    id: Uuid,
    patch: DeveloperPatch,
    now: Timestamp,
) -> Result<Changed, AppError> {
    let mut f = Fields::default();
    let to = match (&patch.status, &patch.state) {
        (Some(a), Some(b)) if !a.eq_ignore_ascii_case(b) => {
            f.push("status", "status and state are the same field; give one");
            None
        }
        (Some(v), _) => f.check("status", DeveloperState::parse(v)),
        (None, Some(v)) => f.check("state", DeveloperState::parse(v)),
        (None, None) => None,
    };
    let name = patch.name.as_deref().and_then(|n| f.check("name", PersonName::parse(n)));
    if patch.status.is_none() && patch.state.is_none() && patch.name.is_none() {
        f.push("status", "is required (or name)");
    }
    f.finish()?;
    // The portal (reject_action, audit_retention_days) beside the developer, concurrently.
    let (dev, portal) = tokio::join!(developer_for(store, token, portal_id, id), store.get_portal(portal_id));
    let (dev, settings) = (dev?, portal?.map(|p| p.settings).unwrap_or_default());
    let reject_action = if to == Some(DeveloperState::Rejected) { settings.reject_action } else { RejectAction::Keep };
    let retention = Some(settings.audit_retention_days());
    Ok(change_developer_kept(store, dev, to, name, &Actor::admin(&token.id), None, reject_action, retention, now).await?)
}

#[tracing::instrument(skip_all, fields(portal_id = %portal_id, developer_id = %id))]
pub async fn delete_developer<S: DeveloperStore + PortalStore>(
    store: &S,
    token: &AdminToken,
    portal_id: Uuid,
    id: Uuid,
    now: Timestamp,
) -> Result<(), AppError> {
    // A concurrent change bumps the version; re-read and try again a few times. The portal
    // (its audit_retention_days) is read beside the developer.
    for _ in 0..3 {
        let (dev, portal) = tokio::join!(developer_for(store, token, portal_id, id), store.get_portal(portal_id));
        let dev = dev?;
        let mut e = LifecycleEvent::new(EventType::Deleted, &dev, Actor::admin(&token.id), now);
        e.retention_days = portal?.map(|p| p.settings.audit_retention_days());
        e.from_state = Some(dev.state);
        match store.delete_developer(&dev, &e).await {
            Ok(()) => return Ok(()),
            Err(StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::Conflict("the developer keeps changing; retry the delete".into()))
}

pub struct ListParams {
    pub state: Option<String>,
    pub q: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

#[tracing::instrument(skip_all, fields(portal_id = %portal_id))]
pub async fn list_developers<S: DeveloperStore>(
    store: &S,
    token: &AdminToken,
    portal_id: Uuid,
    p: ListParams,
) -> Result<Page<Developer>, AppError> {
    let mut f = Fields::default();
    let state = match p.state.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => f.check("state", DeveloperState::parse(s)),
    };
    let prefix = match p.q.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(q) if q.chars().count() > 100 || q.chars().any(char::is_control) => {
            f.push("q", "must be at most 100 characters without control characters");
            None
        }
        Some(q) => Some(q.to_lowercase()),
    };
    let limit = parse_limit(p.limit.as_deref(), &mut f);
    f.finish()?;
    if !token.can_access(portal_id) {
        return Err(AppError::not_found("portal"));
    }
    let query = DeveloperQuery { portal_id, state, prefix, limit, cursor: p.cursor.filter(|c| !c.is_empty()) };
    Ok(store.list_developers(&query).await?)
}
