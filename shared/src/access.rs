//! Access checks of admin tokens: a record of a portal the token may not see is
//! indistinguishable from a missing one (404 naming what was asked for).

use uuid::Uuid;

use crate::domain::{Developer, Invite, Portal, Team};
use crate::error::AppError;
use crate::store::{AdminToken, DeveloperStore, InviteStore, PortalStore, TeamStore};

/// Loads a portal the token may see; another portal's id is indistinguishable from a missing one.
pub async fn portal_for<S: PortalStore>(store: &S, token: &AdminToken, id: Uuid) -> Result<Portal, AppError> {
    if !token.can_access(id) {
        return Err(AppError::not_found("portal"));
    }
    store.get_portal(id).await?.ok_or(AppError::not_found("portal"))
}

/// Loads a developer of `portal_id` that the token may see.
pub async fn developer_for<S: DeveloperStore>(store: &S, token: &AdminToken, portal_id: Uuid, id: Uuid) -> Result<Developer, AppError> {
    if !token.can_access(portal_id) {
        return Err(AppError::not_found("developer"));
    }
    match store.get_developer(id).await? {
        Some(d) if d.portal_id == portal_id => Ok(d),
        _ => Err(AppError::not_found("developer")),
    }
}

/// Loads a team of `portal_id` that the token may see.
pub async fn team_for<S: TeamStore>(store: &S, token: &AdminToken, portal_id: Uuid, team_id: Uuid) -> Result<Team, AppError> {
    if !token.can_access(portal_id) {
        return Err(AppError::not_found("team"));
    }
    store.get_team(team_id).await?.filter(|t| t.portal_id == portal_id).ok_or(AppError::not_found("team"))
}

/// Loads an invite of `portal_id` that the token may see.
pub async fn invite_for<S: InviteStore>(store: &S, token: &AdminToken, portal_id: Uuid, id: Uuid) -> Result<Invite, AppError> {
    if !token.can_access(portal_id) {
        return Err(AppError::not_found("invite"));
    }
    match store.get_invite(id).await? {
        Some(i) if i.portal_id == portal_id => Ok(i),
        _ => Err(AppError::not_found("invite")),
    }
}
