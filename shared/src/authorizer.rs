//! The authorizer's decision: approval state decides, at once, whether a key opens anything.

use uuid::Uuid;

use crate::crypto::{constant_time_eq, token_hash};
use crate::domain::*;
use crate::error::AppError;
use crate::store::*;

/// What an allowed request carries on to the backend.
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    pub portal_id: Uuid,
    pub developer_id: Uuid,
    pub application_id: Uuid,
}

/// Allows a key only while it exists, its developer is approved, it belongs to `portal_id`, and
/// (when the route names a product) its application is subscribed to that product.
#[tracing::instrument(skip_all, fields(portal_id = %portal_id, product = ?product))]
pub async fn authorize<S: AppStore>(
    store: &S,
    key: Option<&str>,
    portal_id: Uuid,
    product: Option<&str>,
) -> Result<Option<Grant>, AppError> {
    let Some(key) = key.map(str::trim).filter(|k| !k.is_empty() && k.len() <= 200) else { return Ok(None) };
    let Some((dev_id, app_id)) = crate::tokens::key_ids(key) else { return Ok(None) };
    let hash = token_hash(key);
    let (credential, dev, app) = store.key_lookup(dev_id, app_id, &hash).await?;
    let (Some(c), Some(dev), Some(app)) = (credential, dev, app) else { return Ok(None) };
    let allowed = constant_time_eq(&c.key_hash, &hash)
        && c.application_id == app.id
        && c.portal_id == portal_id
        && dev.portal_id == portal_id
        && lifecycle::may_access(dev.state)
        && product.is_none_or(|p| app.products.iter().any(|x| x.eq_ignore_ascii_case(p)));
    Ok(allowed.then_some(Grant { portal_id, developer_id: dev.id, application_id: app.id }))
}
