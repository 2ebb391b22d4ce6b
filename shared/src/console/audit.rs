//! The Audit log tab.

use serde_json::Value;

use super::views;
use super::{portal_base, Console, ConsoleStore, PAGE_SIZE};
use crate::audit::EventParams;
use crate::domain::Portal;
use crate::error::AppError;
use crate::store::AdminToken;

pub(super) async fn audit_section<S: ConsoleStore>(
    store: &S,
    token: &AdminToken,
    portal: &Portal,
    c: &Console<'_>,
) -> Result<Value, AppError> {
    let params =
        EventParams { limit: Some(PAGE_SIZE.to_string()), cursor: c.req.query("cursor").map(str::to_string), ..Default::default() };
    let page = crate::audit::list_events(store, token, portal.id, None, &params).await?;
    Ok(views::audit::audit(&portal_base(portal), &page))
}
