//! Teams (admin): create and list teams, add, remove and list members.

use serde::Deserialize;
use uuid::Uuid;

use crate::access::{developer_for, portal_for, team_for};
use crate::domain::*;
use crate::error::AppError;
use crate::fields::{parse_description, parse_limit, Fields};
use crate::store::*;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTeam {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
}

#[tracing::instrument(skip_all, fields(portal_id = %portal_id))]
pub async fn create_team<S: PortalStore + TeamStore>(
    store: &S,
    token: &AdminToken,
    portal_id: Uuid,
    body: NewTeam,
    now: Timestamp,
) -> Result<Team, AppError> {
    let mut f = Fields::default();
    let name = f.check("name", PersonName::parse(&body.name));
    let description = parse_description(&body.description, &mut f);
    f.finish()?;
    portal_for(store, token, portal_id).await?;
    let team = Team { id: Uuid::now_v7(), portal_id, name: name.expect("checked").as_str().to_string(), description, created_at: now };
    store.create_team(&team).await.on_conflict(|| AppError::Conflict("a team with this name exists in this portal".into()))?;
    Ok(team)
}

#[tracing::instrument(skip_all, fields(portal_id = %portal_id))]
pub async fn list_teams<S: PortalStore + TeamStore>(
    store: &S,
    token: &AdminToken,
    portal_id: Uuid,
    limit: Option<String>,
    cursor: Option<String>,
) -> Result<Page<Team>, AppError> {
    let mut f = Fields::default();
    let limit = parse_limit(limit.as_deref(), &mut f);
    f.finish()?;
    portal_for(store, token, portal_id).await?;
    Ok(store.list_teams(portal_id, limit, cursor.filter(|c| !c.is_empty())).await?)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberRef {
    pub id: String,
}

#[tracing::instrument(skip_all, fields(portal_id = %portal_id, team_id = %team_id))]
pub async fn add_member<S: TeamStore + DeveloperStore>(
    store: &S,
    token: &AdminToken,
    portal_id: Uuid,
    team_id: Uuid,
    body: MemberRef,
    now: Timestamp,
) -> Result<Developer, AppError> {
    let dev_id: Uuid = body.id.trim().parse().map_err(|_| AppError::field("id", "must be a developer id (UUID)"))?;
    let team = team_for(store, token, portal_id, team_id).await?;
    let dev = developer_for(store, token, portal_id, dev_id).await?;
    if dev.teams.contains(&team.id.to_string()) {
        return Err(AppError::Conflict("the developer is already a member of this team".into()));
    }
    let mut after = dev.clone();
    after.teams.push(team.id.to_string());
    after.bump(now);
    store
        .change_memberships(
            &dev,
            &after,
            std::slice::from_ref(&team),
            &[],
            &[member_event(EventType::TeamMemberAdded, &after, &team, token, now)],
        )
        .await
        .on_conflict(|| AppError::Conflict("the developer or team changed meanwhile; retry".into()))?;
    Ok(after)
}

#[tracing::instrument(skip_all, fields(portal_id = %portal_id, team_id = %team_id, developer_id = %dev_id))]
pub async fn remove_member<S: TeamStore + DeveloperStore>(
    store: &S,
    token: &AdminToken,
    portal_id: Uuid,
    team_id: Uuid,
    dev_id: Uuid,
    now: Timestamp,
) -> Result<(), AppError> {
    let team = team_for(store, token, portal_id, team_id).await?;
    let dev = developer_for(store, token, portal_id, dev_id).await?;
    if !dev.teams.contains(&team.id.to_string()) {
        return Err(AppError::not_found("team membership"));
    }
    let mut after = dev.clone();
    after.teams.retain(|t| *t != team.id.to_string());
    after.bump(now);
    store
        .change_memberships(&dev, &after, &[], &[team.id], &[member_event(EventType::TeamMemberRemoved, &after, &team, token, now)])
        .await
        .on_conflict(|| AppError::Conflict("the developer or team changed meanwhile; retry".into()))
}

/// A page of a team's members, ordered by developer id, with the exact member count.
#[tracing::instrument(skip_all, fields(portal_id = %portal_id, team_id = %team_id))]
pub async fn members<S: TeamStore>(
    store: &S,
    token: &AdminToken,
    portal_id: Uuid,
    team_id: Uuid,
    limit: Option<String>,
    cursor: Option<String>,
) -> Result<Page<Developer>, AppError> {
    let mut f = Fields::default();
    let limit = parse_limit(limit.as_deref(), &mut f);
    f.finish()?;
    let team = team_for(store, token, portal_id, team_id).await?;
    Ok(store.team_members(team.id, limit, cursor.filter(|c| !c.is_empty())).await?)
}

/// The event of a membership change, in the change's transaction.
fn member_event(event_type: EventType, dev: &Developer, team: &Team, token: &AdminToken, now: Timestamp) -> LifecycleEvent {
    let subject = EventSubject { team_id: Some(team.id), name: Some(team.name.clone()), ..EventSubject::default() };
    LifecycleEvent::about(event_type, dev, Actor::admin(&token.id), subject, now)
}
