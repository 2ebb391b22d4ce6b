//! Approval requests (admin): the queue, and accepting or rejecting a request.

use uuid::Uuid;

use crate::domain::*;
use crate::error::AppError;
use crate::fields::{parse_limit, Fields};
use crate::lifecycle::{change_developer_kept, ChangeError};
use crate::store::*;

#[tracing::instrument(skip_all, fields(event = ?event, status = ?status, portal_id = ?portal_id))]
pub async fn list_approvals<S: ApprovalStore>(
    store: &S,
    token: &AdminToken,
    event: Option<String>,
    status: Option<String>,
    portal_id: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
) -> Result<Page<Approval>, AppError> {
    let mut f = Fields::default();
    let event = event.filter(|e| !e.is_empty()).unwrap_or_else(|| APPROVAL_EVENT_REGISTRATION.into());
    if event != APPROVAL_EVENT_REGISTRATION {
        f.push("event", format!("must be {APPROVAL_EVENT_REGISTRATION}"));
    }
    let status = match status.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => f.check("status", ApprovalStatus::parse(s)),
    };
    let portal = match portal_id.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(p) => f.check("portal_id", p.parse::<Uuid>().map_err(|_| "must be a portal id (UUID)".to_string())),
    };
    let limit = parse_limit(limit.as_deref(), &mut f);
    f.finish()?;
    let portal_id = match (portal, token.is_global()) {
        (Some(p), _) if !token.can_access(p) => return Err(AppError::not_found("portal")),
        (Some(p), _) => Some(p),
        (None, true) => None,
        (None, false) => Some(token.scope.parse().map_err(AppError::internal)?),
    };
    let query = ApprovalQuery { event, status, portal_id, limit, cursor: cursor.filter(|c| !c.is_empty()) };
    Ok(store.list_approvals(&query).await?)
}

/// Accepts or rejects a pending approval request: the developer becomes approved or rejected
/// (or is deleted when the portal's `reject_action` is `delete`).
#[tracing::instrument(skip_all, fields(approval_id = %approval_id, accept))]
pub async fn decide_approval<S: ApprovalStore + DeveloperStore + PortalStore>(
    store: &S,
    token: &AdminToken,
    approval_id: Uuid,
    accept: bool,
    now: Timestamp,
) -> Result<Approval, AppError> {
    let approval =
        store.get_approval(approval_id).await?.filter(|a| token.can_access(a.portal_id)).ok_or(AppError::not_found("approval"))?;
    if approval.status != ApprovalStatus::Pending {
        return Err(AppError::Conflict(format!("this approval request was already {}", approval.status.as_str())));
    }
    // The portal (reject_action, audit_retention_days) beside the developer, concurrently.
    let (dev, portal) = tokio::join!(store.get_developer(approval.developer_id), store.get_portal(approval.portal_id));
    let dev = dev?.ok_or(AppError::not_found("developer"))?;
    let settings = portal?.map(|p| p.settings).unwrap_or_default();
    if dev.approval_id != Some(approval.id) || dev.state != DeveloperState::Pending {
        return Err(AppError::Conflict("this approval request was already decided".into()));
    }
    let to = if accept { DeveloperState::Approved } else { DeveloperState::Rejected };
    let reject_action = if accept { RejectAction::Keep } else { settings.reject_action };
    let actor = Actor::admin(&token.id);
    let retention = Some(settings.audit_retention_days());
    change_developer_kept(store, dev, Some(to), None, &actor, None, reject_action, retention, now).await.map_err(|e| match e {
        ChangeError::Forbidden(_) | ChangeError::LostRace => AppError::Conflict("this approval request was already decided".into()),
        ChangeError::Store(e) => e.into(),
    })?;
    Ok(Approval {
        status: if accept { ApprovalStatus::Accepted } else { ApprovalStatus::Rejected },
        decided_at: Some(now),
        decided_by: Some(actor.0),
        ..approval
    })
}
