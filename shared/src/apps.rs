//! Teams (admin), applications, API-key credentials and product subscriptions (developer
//! sessions), and the authorizer's decision: approval state decides, at once, whether a key
//! opens anything.

use serde::Deserialize;
use uuid::Uuid;

use crate::accounts::Authenticated;
use crate::crypto::{constant_time_eq, token_hash};
use crate::domain::*;
use crate::error::AppError;
use crate::http::Fields;
use crate::service::{developer_for, parse_limit, portal_for};
use crate::store::*;

pub const MAX_APPLICATIONS_PER_DEVELOPER: u32 = 20;
pub const MAX_KEYS_PER_APPLICATION: usize = 5;
pub const API_KEY_PREFIX: &str = "ghk_";

fn parse_description(raw: &Option<String>, f: &mut Fields) -> Option<String> {
    match raw.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(d) if d.chars().count() > 500 || d.chars().any(|c| c.is_control() && c != '\n') => {
            f.push("description", "must be at most 500 characters without control characters");
            None
        }
        Some(d) => Some(d.to_string()),
    }
}

// ---------------------------------------------------------------- teams (admin)

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTeam {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
}

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
    store.create_team(&team).await.map_err(|e| match e {
        StoreError::Conflict => AppError::Conflict("a team with this name exists in this portal".into()),
        e => e.into(),
    })?;
    Ok(team)
}

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

async fn team_for<S: TeamStore>(store: &S, token: &AdminToken, portal_id: Uuid, team_id: Uuid) -> Result<Team, AppError> {
    if !token.can_access(portal_id) {
        return Err(AppError::NotFound("team"));
    }
    store.get_team(team_id).await?.filter(|t| t.portal_id == portal_id).ok_or(AppError::NotFound("team"))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberRef {
    pub id: String,
}

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
    after.version += 1;
    after.updated_at = now;
    store.set_membership(&dev, &after, &team, true).await.map_err(|e| match e {
        StoreError::Conflict => AppError::Conflict("the developer or team changed meanwhile; retry".into()),
        e => e.into(),
    })?;
    Ok(after)
}

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
        return Err(AppError::NotFound("team membership"));
    }
    let mut after = dev.clone();
    after.teams.retain(|t| *t != team.id.to_string());
    after.version += 1;
    after.updated_at = now;
    store.set_membership(&dev, &after, &team, false).await.map_err(|e| match e {
        StoreError::Conflict => AppError::Conflict("the developer or team changed meanwhile; retry".into()),
        e => e.into(),
    })
}

/// A page of a team's members, ordered by developer id, with the exact member count.
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

// ---------------------------------------------------------------- applications (session)

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewApplication {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
}

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
    after.version += 1;
    after.updated_at = now;
    store.create_app(&dev, &after, &app).await.map_err(|e| match e {
        StoreError::Conflict => AppError::Conflict("your account changed meanwhile; retry".into()),
        e => e.into(),
    })?;
    Ok(app)
}

async fn own_app<S: AppStore>(store: &S, auth: &Authenticated, app_id: Uuid) -> Result<Application, AppError> {
    auth.require_password_changed()?;
    store.get_app(auth.developer.id, app_id).await?.ok_or(AppError::NotFound("application"))
}

pub async fn list_apps<S: AppStore>(store: &S, auth: &Authenticated) -> Result<Vec<Application>, AppError> {
    auth.require_password_changed()?;
    Ok(store.list_apps(auth.developer.id).await?)
}

pub async fn get_app<S: AppStore>(store: &S, auth: &Authenticated, app_id: Uuid) -> Result<Application, AppError> {
    own_app(store, auth, app_id).await
}

pub async fn delete_app<S: AppStore>(store: &S, auth: Authenticated, app_id: Uuid, now: Timestamp) -> Result<(), AppError> {
    let app = own_app(store, &auth, app_id).await?;
    let dev = auth.developer;
    let mut after = dev.clone();
    after.application_count = after.application_count.saturating_sub(1);
    after.version += 1;
    after.updated_at = now;
    store.delete_app(&dev, &after, &app).await.map_err(|e| match e {
        StoreError::Conflict => AppError::Conflict("your account changed meanwhile; retry".into()),
        e => e.into(),
    })
}

/// A new API key: shown once, stored only as its hash.
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
    let minted = crate::crypto::mint_api_key(app.developer_id, app.id);
    let credential = Credential {
        id: Uuid::now_v7(),
        portal_id: app.portal_id,
        developer_id: app.developer_id,
        application_id: app.id,
        key_hash: minted.hash,
        key_prefix: minted.token.chars().take(12).collect(),
        created_at: now,
    };
    store.put_credential(&credential).await.map_err(|e| match e {
        StoreError::Conflict => AppError::NotFound("application"),
        e => e.into(),
    })?;
    Ok((credential, minted.token))
}

pub async fn list_credentials<S: AppStore>(store: &S, auth: &Authenticated, app_id: Uuid) -> Result<Vec<Credential>, AppError> {
    let app = own_app(store, auth, app_id).await?;
    Ok(store.list_credentials(app.developer_id, app.id).await?)
}

pub async fn delete_credential<S: AppStore>(store: &S, auth: &Authenticated, app_id: Uuid, credential_id: Uuid) -> Result<(), AppError> {
    let app = own_app(store, auth, app_id).await?;
    let c = store
        .list_credentials(app.developer_id, app.id)
        .await?
        .into_iter()
        .find(|c| c.id == credential_id)
        .ok_or(AppError::NotFound("credential"))?;
    Ok(store.delete_credential(&c).await?)
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
    app.version += 1;
    app.updated_at = now;
    store.update_app(&app).await.map_err(|e| match e {
        StoreError::Conflict => AppError::Conflict("the application changed meanwhile; retry".into()),
        e => e.into(),
    })?;
    Ok(app)
}

pub async fn unsubscribe<S: AppStore>(
    store: &S,
    auth: &Authenticated,
    app_id: Uuid,
    product: &str,
    now: Timestamp,
) -> Result<(), AppError> {
    let product = parse_product(product).map_err(|_| AppError::NotFound("subscription"))?;
    let mut app = own_app(store, auth, app_id).await?;
    if !app.products.contains(&product) {
        return Err(AppError::NotFound("subscription"));
    }
    app.products.retain(|p| *p != product);
    app.version += 1;
    app.updated_at = now;
    store.update_app(&app).await.map_err(|e| match e {
        StoreError::Conflict => AppError::Conflict("the application changed meanwhile; retry".into()),
        e => e.into(),
    })
}

/// Admin: a developer's applications.
pub async fn developer_apps<S: AppStore + DeveloperStore>(
    store: &S,
    token: &AdminToken,
    portal_id: Uuid,
    dev_id: Uuid,
) -> Result<Vec<Application>, AppError> {
    let dev = developer_for(store, token, portal_id, dev_id).await?;
    Ok(store.list_apps(dev.id).await?)
}

// ---------------------------------------------------------------- the authorizer's decision

/// What an allowed request carries on to the backend.
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    pub portal_id: Uuid,
    pub developer_id: Uuid,
    pub application_id: Uuid,
}

/// The developer and application a key names (`ghk_<developer><application>.<secret>`).
pub fn key_ids(key: &str) -> Option<(Uuid, Uuid)> {
    let rest = key.strip_prefix(API_KEY_PREFIX)?;
    let (ids, secret) = rest.split_once('.')?;
    if ids.len() != 64 || secret.len() < 40 || secret.len() > 64 {
        return None;
    }
    Some((Uuid::try_parse(&ids[..32]).ok()?, Uuid::try_parse(&ids[32..]).ok()?))
}

/// Allows a key only while it exists, its developer is approved, it belongs to `portal_id`, and
/// (when the route names a product) its application is subscribed to that product.
pub async fn authorize<S: AppStore>(
    store: &S,
    key: Option<&str>,
    portal_id: Uuid,
    product: Option<&str>,
) -> Result<Option<Grant>, AppError> {
    let Some(key) = key.map(str::trim).filter(|k| !k.is_empty() && k.len() <= 200) else { return Ok(None) };
    let Some((dev_id, app_id)) = key_ids(key) else { return Ok(None) };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_names_its_developer_and_application() {
        let (d, a) = (Uuid::new_v4(), Uuid::new_v4());
        let k = crate::crypto::mint_api_key(d, a);
        assert_eq!(key_ids(&k.token), Some((d, a)));
        assert_eq!(key_ids("ghk_short.x"), None);
        assert_eq!(key_ids(&k.token.replace("ghk_", "ghs_")), None);
    }

    #[test]
    fn product_names_are_normalised_and_checked() {
        assert_eq!(parse_product(" Orders-v2 ").unwrap(), "orders-v2");
        assert!(parse_product("").is_err());
        assert!(parse_product("no spaces").is_err());
    }
}
