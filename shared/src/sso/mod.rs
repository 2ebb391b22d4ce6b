//! Single sign-on (issue 17), the admin side: a portal's OpenID Connect identity providers.
//! The client secret is sealed (KMS) before it is stored and never returned.

use serde::Deserialize;
use uuid::Uuid;

use crate::access::portal_for;
use crate::domain::idp::{parse_issuer, parse_scopes, parse_text, MAX_IDPS_PER_PORTAL, MAX_TEAM_MAPPINGS};
use crate::domain::*;
use crate::error::AppError;
use crate::fields::Fields;
use crate::store::*;

/// A provider as the API takes it: every field for a create (missing ones are named), any of
/// them for a change.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdpInput {
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub config: Option<ConfigInput>,
    #[serde(default)]
    pub auto_approve: Option<bool>,
    #[serde(default)]
    pub team_mappings: Option<Vec<MappingInput>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigInput {
    #[serde(default)]
    pub issuer_url: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub client_secret: Option<String>,
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    #[serde(default)]
    pub claim_mappings: Option<ClaimMappingsInput>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimMappingsInput {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub groups: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingInput {
    pub group: String,
    pub team_id: String,
}

/// What the deployment allows of issuers: `http` on loopback only on a local stack.
#[derive(Debug, Clone, Copy, Default)]
pub struct IssuerPolicy {
    pub allow_loopback_http: bool,
}

/// The encryption context a provider's client secret is sealed under: its portal and id.
pub fn secret_context(portal_id: Uuid, idp_id: Uuid) -> [(&'static str, String); 2] {
    [("portal_id", portal_id.to_string()), ("idp_id", idp_id.to_string())]
}

/// Applies `input` to `idp` (a new provider's defaults, or the stored one), checking every
/// field; returns the new client secret in clear when one was given.
fn apply(idp: &mut IdentityProvider, input: IdpInput, creating: bool, policy: IssuerPolicy) -> Result<Option<String>, AppError> {
    let mut f = Fields::default();
    let required = |f: &mut Fields, field: &str, present: bool| {
        if creating && !present {
            f.push(field, "is required");
        }
    };
    match input.kind.as_deref() {
        Some("oidc") => {}
        None => required(&mut f, "type", false),
        Some(_) => f.push("type", "must be \"oidc\""),
    }
    if let Some(e) = input.enabled {
        idp.enabled = e;
    }
    if let Some(a) = input.auto_approve {
        idp.auto_approve = a;
    }
    required(&mut f, "display_name", input.display_name.is_some());
    if let Some(v) = f.check("display_name", input.display_name.as_deref().map_or(Ok(None), |n| parse_text(n, 100).map(Some))).flatten() {
        idp.display_name = v;
    }
    let config = input.config.unwrap_or_default();
    required(&mut f, "config.issuer_url", config.issuer_url.is_some());
    required(&mut f, "config.client_id", config.client_id.is_some());
    required(&mut f, "config.client_secret", config.client_secret.is_some());
    if let Some(raw) = &config.issuer_url {
        if let Some(v) = f.check("config.issuer_url", parse_issuer(raw, policy.allow_loopback_http)) {
            idp.issuer_url = v;
        }
    }
    if let Some(raw) = &config.client_id {
        if let Some(v) = f.check("config.client_id", parse_text(raw, 255)) {
            idp.client_id = v;
        }
    }
    let secret = match &config.client_secret {
        Some(s) if s.is_empty() || s.len() > 1024 || s.chars().any(char::is_control) => {
            f.push("config.client_secret", "must be 1 to 1024 characters without control characters");
            None
        }
        other => other.clone(),
    };
    if creating || config.scopes.is_some() {
        if let Some(v) = f.check("config.scopes", parse_scopes(config.scopes.as_deref())) {
            idp.scopes = v;
        }
    }
    if let Some(m) = config.claim_mappings {
        for (field, raw, slot) in [
            ("config.claim_mappings.email", m.email, &mut idp.claim_mappings.email),
            ("config.claim_mappings.name", m.name, &mut idp.claim_mappings.name),
            ("config.claim_mappings.groups", m.groups, &mut idp.claim_mappings.groups),
        ] {
            if let Some(v) = raw.and_then(|r| f.check(field, parse_text(&r, 100))) {
                *slot = v;
            }
        }
    }
    if let Some(maps) = input.team_mappings {
        if maps.len() > MAX_TEAM_MAPPINGS {
            f.push("team_mappings", format!("must list at most {MAX_TEAM_MAPPINGS} mappings"));
        }
        let mut parsed = Vec::new();
        for (i, m) in maps.iter().enumerate() {
            let group = f.check(&format!("team_mappings[{i}].group"), parse_text(&m.group, 255));
            let team = f.check(
                &format!("team_mappings[{i}].team_id"),
                m.team_id.trim().parse::<Uuid>().map_err(|_| "must be a team id (UUID)".into()),
            );
            if let (Some(group), Some(team_id)) = (group, team) {
                let mapping = TeamMapping { group, team_id };
                if !parsed.contains(&mapping) {
                    parsed.push(mapping);
                }
            }
        }
        idp.team_mappings = parsed;
    }
    f.finish()?;
    Ok(secret)
}

/// Every mapped team must be a team of the portal (one read per distinct team, concurrently).
async fn check_teams<S: TeamStore>(store: &S, idp: &IdentityProvider) -> Result<(), AppError> {
    let mut ids: Vec<Uuid> = idp.team_mappings.iter().map(|m| m.team_id).collect();
    ids.sort();
    ids.dedup();
    let teams = futures::future::try_join_all(ids.iter().map(|id| store.get_team(*id))).await?;
    let mut f = Fields::default();
    for (i, m) in idp.team_mappings.iter().enumerate() {
        let pos = ids.iter().position(|id| *id == m.team_id).expect("listed");
        if teams[pos].as_ref().is_none_or(|t| t.portal_id != idp.portal_id) {
            f.push(&format!("team_mappings[{i}].team_id"), "is not a team of this portal");
        }
    }
    f.finish()
}

#[tracing::instrument(skip_all, fields(portal_id = %portal_id))]
pub async fn create_idp<S: PortalStore + TeamStore + IdpStore, K: SecretSealer>(
    store: &S,
    sealer: &K,
    token: &AdminToken,
    portal_id: Uuid,
    input: IdpInput,
    policy: IssuerPolicy,
    now: Timestamp,
) -> Result<IdentityProvider, AppError> {
    let mut idp = IdentityProvider {
        id: Uuid::now_v7(),
        portal_id,
        enabled: true,
        display_name: String::new(),
        issuer_url: String::new(),
        client_id: String::new(),
        client_secret_sealed: String::new(),
        scopes: Vec::new(),
        claim_mappings: ClaimMappings::default(),
        auto_approve: false,
        team_mappings: Vec::new(),
        version: 1,
        created_at: now,
        updated_at: now,
    };
    let secret = apply(&mut idp, input, true, policy)?.expect("required");
    portal_for(store, token, portal_id).await?;
    check_teams(store, &idp).await?;
    if store.list_idps(portal_id).await?.len() >= MAX_IDPS_PER_PORTAL {
        return Err(AppError::Conflict(format!("a portal has at most {MAX_IDPS_PER_PORTAL} identity providers")));
    }
    idp.client_secret_sealed = sealer.seal(&secret, &secret_context(portal_id, idp.id)).await?;
    store.create_idp(&idp).await.on_conflict(|| AppError::Conflict("the identity provider exists".into()))?;
    Ok(idp)
}

/// A provider of a portal the token may see.
pub async fn idp_for<S: IdpStore>(store: &S, token: &AdminToken, portal_id: Uuid, id: Uuid) -> Result<IdentityProvider, AppError> {
    if !token.can_access(portal_id) {
        return Err(AppError::not_found("identity provider"));
    }
    store.get_idp(portal_id, id).await?.ok_or(AppError::not_found("identity provider"))
}

#[tracing::instrument(skip_all, fields(portal_id = %portal_id))]
pub async fn list_idps<S: PortalStore + IdpStore>(
    store: &S,
    token: &AdminToken,
    portal_id: Uuid,
) -> Result<Vec<IdentityProvider>, AppError> {
    portal_for(store, token, portal_id).await?;
    Ok(store.list_idps(portal_id).await?)
}

#[allow(clippy::too_many_arguments)]
#[tracing::instrument(skip_all, fields(portal_id = %portal_id, idp_id = %id))]
pub async fn update_idp<S: TeamStore + IdpStore, K: SecretSealer>(
    store: &S,
    sealer: &K,
    token: &AdminToken,
    portal_id: Uuid,
    id: Uuid,
    input: IdpInput,
    policy: IssuerPolicy,
    now: Timestamp,
) -> Result<IdentityProvider, AppError> {
    let before = idp_for(store, token, portal_id, id).await?;
    let mut idp = before.clone();
    let secret = apply(&mut idp, input, false, policy)?;
    if idp.team_mappings != before.team_mappings {
        check_teams(store, &idp).await?;
    }
    if let Some(secret) = secret {
        idp.client_secret_sealed = sealer.seal(&secret, &secret_context(portal_id, idp.id)).await?;
    }
    idp.bump(now);
    store
        .update_idp(&idp)
        .await
        .on_conflict(|| AppError::Conflict("the identity provider changed meanwhile; read it again and retry".into()))?;
    Ok(idp)
}

#[tracing::instrument(skip_all, fields(portal_id = %portal_id, idp_id = %id))]
pub async fn delete_idp<S: IdpStore>(store: &S, token: &AdminToken, portal_id: Uuid, id: Uuid) -> Result<(), AppError> {
    let idp = idp_for(store, token, portal_id, id).await?;
    store.delete_idp(&idp).await.on_conflict(|| AppError::Conflict("the identity provider changed meanwhile; retry".into()))
}

pub mod flow;
