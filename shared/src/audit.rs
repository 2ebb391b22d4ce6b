//! The audit trail (admin): a portal's lifecycle events, or one developer's history, newest
//! first, filtered by type (`developer.*`), actor and time window.

use uuid::Uuid;

use crate::access::portal_for;
use crate::domain::audit::{parse_time, ActorFilter, TypeFilter};
use crate::domain::LifecycleEvent;
use crate::error::AppError;
use crate::fields::{parse_limit, Fields};
use crate::store::{AdminToken, AuditLog, EventQuery, Page, PortalStore};

/// The query parameters as they arrive.
#[derive(Debug, Default, Clone)]
pub struct EventParams {
    pub event_type: Option<String>,
    pub developer_id: Option<String>,
    pub actor: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

fn given(v: Option<&String>) -> Option<&str> {
    v.map(|s| s.trim()).filter(|s| !s.is_empty())
}

/// Parses the parameters (naming every bad one) into a query of `portal_id`; `developer` is
/// the path's developer (the history route), which a `developer_id=` may not contradict.
pub fn parse_query(portal_id: Uuid, developer: Option<Uuid>, p: &EventParams) -> Result<EventQuery, AppError> {
    let mut f = Fields::default();
    let types = given(p.event_type.as_ref()).and_then(|t| f.check("type", TypeFilter::parse(t)));
    let actor = given(p.actor.as_ref()).and_then(|a| f.check("actor", ActorFilter::parse(a)));
    let since = given(p.since.as_ref()).and_then(|t| f.check("since", parse_time(t)));
    let until = given(p.until.as_ref()).and_then(|t| f.check("until", parse_time(t)));
    let by_param = given(p.developer_id.as_ref())
        .and_then(|d| f.check("developer_id", d.parse::<Uuid>().map_err(|_| "must be a developer id (UUID)".to_string())));
    let developer_id = match (developer, by_param) {
        (Some(a), Some(b)) if a != b => {
            f.push("developer_id", "must be the developer of the path");
            Some(a)
        }
        (a, b) => a.or(b),
    };
    if let (Some(s), Some(u)) = (since, until) {
        if s > u {
            f.push("until", "must not be before since");
        }
    }
    let limit = parse_limit(p.limit.as_deref(), &mut f);
    f.finish()?;
    Ok(EventQuery { portal_id, developer_id, types, actor, since, until, limit, cursor: given(p.cursor.as_ref()).map(str::to_string) })
}

/// `GET /api/portals/{portal_id}/events` and `.../developers/{developer_id}/events`: the
/// portal read (access and existence) and the page's query run concurrently.
#[tracing::instrument(skip_all, fields(portal_id = %portal_id, developer_id = ?developer))]
pub async fn list_events<S: AuditLog + PortalStore>(
    store: &S,
    token: &AdminToken,
    portal_id: Uuid,
    developer: Option<Uuid>,
    params: &EventParams,
) -> Result<Page<LifecycleEvent>, AppError> {
    let query = parse_query(portal_id, developer, params)?;
    if !token.can_access(portal_id) {
        return Err(AppError::not_found("portal"));
    }
    let (portal, page) = tokio::join!(portal_for(store, token, portal_id), store.list_events(&query));
    portal?;
    Ok(page?)
}
