//! Applications of an approved developer (session): applications, API-key credentials and
//! product subscriptions; and, for admins, a developer's applications.

use serde::Deserialize;
use uuid::Uuid;

use crate::access::developer_for;
use crate::domain::*;
use crate::error::AppError;
use crate::fields::{parse_description, Fields};
use crate::sessions::Authenticated;
use crate::store::*;

pub const MAX_APPLICATIONS_PER_DEVELOPER: u32 = 20;
pub const MAX_KEYS_PER_APPLICATION: usize = 5;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewApplication {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
}

#[tracing::instrument(skip_all, fields(portal_id = %auth.developer.portal_id, developer_id = %auth.developer.id))]
pub async fn create_app<S: AppStore>(
    store: &S,
    auth: Authenticated,
    body: NewApplication,
    now: Timestamp,
) -> Result<Application, AppError> {
    auth.require_password_changed()?;
    let mut f = Fields::default();
    let name = f.check("name", PersonName::parse(&body.name));
    let description = parse_description(&body.description, &mut f);
    f.finish()?;
    let dev = auth.developer;
    if dev.application_count >= MAX_APPLICATIONS_PER_DEVELOPER {
        return Err(AppError::Conflict(format!("a developer can have at most {MAX_APPLICATIONS_PER_DEVELOPER} applications")));
    }
    let app = Application {
        id: Uuid::now_v7(),
        portal_id: dev.portal_id,
        developer_id: dev.id,
        name: name.expect("checked").as_str().to_string(),
        description,
        products: vec![],
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let mut after = dev.clone();
    after.application_count += 1;
    after.bump(now);
    let event = app_event(EventType::ApplicationCreated, &after, &app, None, now);
    store
        .create_app(&dev, &after, &app, &event)
        .await
        .on_conflict(|| AppError::Conflict("your account changed meanwhile; retry".into()))?;
    Ok(app)
}

async fn own_app<S: AppStore>(store: &S, auth: &Authenticated, app_id: Uuid) -> Result<Application, AppError> {
    auth.require_password_changed()?;
    store.get_app(auth.developer.id, app_id).await?.ok_or(AppError::not_found("application"))
}

#[tracing::instrument(skip_all, fields(portal_id = %auth.developer.portal_id, developer_id = %auth.developer.id))]
pub async fn list_apps<S: AppStore>(store: &S, auth: &Authenticated) -> Result<Vec<Application>, AppError> {
    auth.require_password_changed()?;
    Ok(store.list_apps(auth.developer.id).await?)
}

#[tracing::instrument(skip_all, fields(portal_id = %auth.developer.portal_id, developer_id = %auth.developer.id, app_id = %app_id))]
pub async fn get_app<S: AppStore>(store: &S, auth: &Authenticated, app_id: Uuid) -> Result<Application, AppError> {
    own_app(store, auth, app_id).await
}

#[tracing::instrument(skip_all, fields(portal_id = %auth.developer.portal_id, developer_id = %auth.developer.id, app_id = %app_id))]
pub async fn delete_app<S: AppStore>(store: &S, auth: Authenticated, app_id: Uuid, now: Timestamp) -> Result<(), AppError> {
    let app = own_app(store, &auth, app_id).await?;
    let dev = auth.developer;
    let mut after = dev.clone();
    after.application_count = after.application_count.saturating_sub(1);
    after.bump(now);
    let event = app_event(EventType::ApplicationDeleted, &after, &app, None, now);
    store.delete_app(&dev, &after, &app, &event).await.on_conflict(|| AppError::Conflict("your account changed meanwhile; retry".into()))
}

/// A new API key: shown once, stored only as its hash.
#[tracing::instrument(skip_all, fields(portal_id = %auth.developer.portal_id, developer_id = %auth.developer.id, app_id = %app_id))]
pub async fn create_credential<S: AppStore>(
    store: &S,
    auth: &Authenticated,
    app_id: Uuid,
    now: Timestamp,
) -> Result<(Credential, String), AppError> {
    let app = own_app(store, auth, app_id).await?;
    if store.list_credentials(app.developer_id, app.id).await?.len() >= MAX_KEYS_PER_APPLICATION {
        return Err(AppError::Conflict(format!("an application can have at most {MAX_KEYS_PER_APPLICATION} keys; delete one first")));
    }
    let minted = crate::tokens::mint_api_key(app.developer_id, app.id);
    let credential = Credential {
        id: Uuid::now_v7(),
        portal_id: app.portal_id,
        developer_id: app.developer_id,
        application_id: app.id,
        key_hash: minted.hash,
        key_prefix: minted.token.chars().take(12).collect(),
        created_at: now,
    };
    let event = app_event(EventType::CredentialCreated, &auth.developer, &app, Some(credential.id), now);
    store.put_credential(&credential, &event).await.on_conflict(|| AppError::not_found("application"))?;
    Ok((credential, minted.token))
}

#[tracing::instrument(skip_all, fields(portal_id = %auth.developer.portal_id, developer_id = %auth.developer.id, app_id = %app_id))]
pub async fn list_credentials<S: AppStore>(store: &S, auth: &Authenticated, app_id: Uuid) -> Result<Vec<Credential>, AppError> {
    let app = own_app(store, auth, app_id).await?;
    Ok(store.list_credentials(app.developer_id, app.id).await?)
}

#[tracing::instrument(skip_all, fields(portal_id = %auth.developer.portal_id, developer_id = %auth.developer.id, app_id = %app_id, credential_id = %credential_id))]
pub async fn delete_credential<S: AppStore>(
    store: &S,
    auth: &Authenticated,
    app_id: Uuid,
    credential_id: Uuid,
    now: Timestamp,
) -> Result<(), AppError> {
    let app = own_app(store, auth, app_id).await?;
    let c = store
        .list_credentials(app.developer_id, app.id)
        .await?
        .into_iter()
        .find(|c| c.id == credential_id)
        .ok_or(AppError::not_found("credential"))?;
    let event = app_event(EventType::CredentialDeleted, &auth.developer, &app, Some(c.id), now);
    store.delete_credential(&c, &event).await.on_conflict(|| AppError::not_found("credential"))
}

/// The event of an application or credential change by its developer (the key itself, its
/// hash and prefix never go into it).
fn app_event(event_type: EventType, dev: &Developer, app: &Application, credential: Option<Uuid>, now: Timestamp) -> LifecycleEvent {
    let subject =
        EventSubject { application_id: Some(app.id), credential_id: credential, name: Some(app.name.clone()), ..EventSubject::default() };
    let mut e = LifecycleEvent::about(event_type, dev, Actor::developer(dev.id), subject, now);
    e.from_state = Some(dev.state);
    e.to_state = Some(dev.state);
    e
}

/// An API product name: 1 to 64 of `a-z 0-9 - _ .`, case-insensitive.
pub fn parse_product(raw: &str) -> Result<String, String> {
    let p = raw.trim().to_ascii_lowercase();
    if p.is_empty() || p.len() > 64 || !p.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
        return Err("must be an API product name of 1 to 64 letters, digits, '-', '_' or '.'".into());
    }
    Ok(p)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscribe {
    pub product: String,
}

#[tracing::instrument(skip_all, fields(portal_id = %auth.developer.portal_id, developer_id = %auth.developer.id, app_id = %app_id))]
pub async fn subscribe<S: AppStore>(
    store: &S,
    auth: &Authenticated,
    app_id: Uuid,
    body: Subscribe,
    now: Timestamp,
) -> Result<Application, AppError> {
    let product = parse_product(&body.product).map_err(|m| AppError::field("product", m))?;
    let mut app = own_app(store, auth, app_id).await?;
    if app.products.contains(&product) {
        return Err(AppError::Conflict("the application is already subscribed to this product".into()));
    }
    if app.products.len() >= 50 {
        return Err(AppError::Conflict("an application can subscribe to at most 50 products".into()));
    }
    app.products.push(product);
    app.bump(now);
    store.update_app(&app).await.on_conflict(|| AppError::Conflict("the application changed meanwhile; retry".into()))?;
    Ok(app)
}

#[tracing::instrument(skip_all, fields(portal_id = %auth.developer.portal_id, developer_id = %auth.developer.id, app_id = %app_id, product = %product))]
pub async fn unsubscribe<S: AppStore>(
    store: &S,
    auth: &Authenticated,
    app_id: Uuid,
    product: &str,
    now: Timestamp,
) -> Result<(), AppError> {
    let product = parse_product(product).map_err(|_| AppError::not_found("subscription"))?;
    let mut app = own_app(store, auth, app_id).await?;
    if !app.products.contains(&product) {
        return Err(AppError::not_found("subscription"));
    }
    app.products.retain(|p| *p != product);
    app.bump(now);
    store.update_app(&app).await.on_conflict(|| AppError::Conflict("the application changed meanwhile; retry".into()))
}

/// The developer's applications, each with its API keys, as the account page shows them: one
/// `Query` of the applications, then the keys of every application concurrently (no ownership
/// read per application: the list is the developer's own).
pub async fn apps_with_credentials<S: AppStore>(store: &S, auth: &Authenticated) -> Result<Vec<(Application, Vec<Credential>)>, AppError> {
    let apps = list_apps(store, auth).await?;
    let keys = futures::future::try_join_all(apps.iter().map(|a| store.list_credentials(a.developer_id, a.id))).await?;
    Ok(apps.into_iter().zip(keys).collect())
}

/// Admin: a developer's applications.
#[tracing::instrument(skip_all, fields(portal_id = %portal_id, developer_id = %dev_id))]
pub async fn developer_apps<S: AppStore + DeveloperStore>(
    store: &S,
    token: &AdminToken,
    portal_id: Uuid,
    dev_id: Uuid,
) -> Result<Vec<Application>, AppError> {
    let dev = developer_for(store, token, portal_id, dev_id).await?;
    Ok(store.list_apps(dev.id).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_names_are_normalised_and_checked() {
        assert_eq!(parse_product(" Orders-v2 ").unwrap(), "orders-v2");
        assert!(parse_product("").is_err());
        assert!(parse_product("no spaces").is_err());
    }
}
