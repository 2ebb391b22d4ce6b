//! The Teams tab: the list and Create team.

use serde_json::Value;

use super::views::{self, Tab};
use super::{error_message, Console, ConsoleStore, PAGE_SIZE};
use crate::domain::{Portal, Timestamp};
use crate::error::AppError;
use crate::pages::web::Form;
use crate::pages::PageResponse;
use crate::store::AdminToken;

pub(super) async fn teams_section<S: ConsoleStore>(
    store: &S,
    token: &AdminToken,
    portal: &Portal,
    base: &str,
    c: &Console<'_>,
) -> Result<Value, AppError> {
    let cursor = c.req.query("cursor").map(str::to_string);
    let page = crate::teams::list_teams(store, token, portal.id, Some(PAGE_SIZE.to_string()), cursor).await?;
    Ok(views::teams::teams(base, &page))
}

pub(super) async fn team_post<S: ConsoleStore>(store: &S, c: Console<'_>, portal: &Portal, form: &Form, now: Timestamp) -> PageResponse {
    let token = c.token().clone();
    let body = crate::teams::NewTeam { name: form.get("name").trim().to_string(), description: form.optional("description") };
    let done = crate::teams::create_team(store, &token, portal.id, body, now).await.map(|_| "team_created");
    super::tab_outcome(store, c, portal, Tab::Teams, done, error_message, now).await
}
