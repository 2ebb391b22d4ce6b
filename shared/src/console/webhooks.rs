//! The Webhooks tab.

use serde_json::Value;

use super::views;
use super::ConsoleStore;
use crate::domain::Portal;
use crate::error::AppError;
use crate::store::AdminToken;

pub(super) async fn webhooks_section<S: ConsoleStore>(store: &S, token: &AdminToken, portal: &Portal) -> Result<Value, AppError> {
    let hooks = crate::webhooks::list(store, token, portal.id).await?;
    Ok(views::webhooks::webhooks(&hooks))
}
