//! Portals (admin): create, read and change a portal and its settings.

use serde::Deserialize;
use serde_json::{Map, Value};
use uuid::Uuid;

pub use crate::access::portal_for;
use crate::config::Config;
use crate::domain::*;
use crate::error::AppError;
use crate::fields::Fields;
use crate::mail::validate_override;
use crate::store::*;

/// `POST /api/portals` body: `name` plus any settings, at the top level (as the contract
/// shows) or nested under `settings`.
pub fn parse_new_portal(body: Map<String, Value>) -> Result<(PortalName, PortalSettings), AppError> {
    let mut body = body;
    let mut fields = Fields::default();
    let name = match body.remove("name") {
        Some(Value::String(s)) => fields.check("name", PortalName::parse(&s)),
        Some(_) => fields.check::<PortalName>("name", Err("must be a string".into())),
        None => fields.check::<PortalName>("name", Err("is required".into())),
    };
    let nested = body.remove("settings");
    let (patch_value, prefix) = match nested {
        Some(Value::Object(m)) if body.is_empty() => (Value::Object(m), "settings."),
        Some(Value::Object(_)) => {
            fields.push("settings", "give settings either at the top level or under settings, not both");
            (Value::Object(Map::new()), "")
        }
        Some(_) => {
            fields.push("settings", "must be an object");
            (Value::Object(Map::new()), "")
        }
        None => (Value::Object(body), ""),
    };
    let settings = match serde_path_to_error::deserialize::<_, SettingsPatch>(patch_value) {
        Ok(patch) => match patch.apply(PortalSettings::default(), prefix, validate_override) {
            Ok(s) => Some(s),
            Err(errs) => {
                for e in errs {
                    fields.push(&e.field, e.message);
                }
                None
            }
        },
        Err(e) => {
            let msg = e.inner().to_string();
            let quoted = msg.split('`').nth(1).unwrap_or_default();
            if msg.starts_with("unknown field") {
                fields.push(&format!("{prefix}{quoted}"), "is not a known field");
            } else {
                let path = e.path().to_string();
                fields.push(&format!("{prefix}{}", if path == "." { "settings".into() } else { path }), msg);
            }
            None
        }
    };
    fields.finish()?;
    Ok((name.expect("checked"), settings.expect("checked")))
}

/// A portal may send only from the deployment's allowed sender domains: checked when
/// `email_from` changes (`field` names it as the request did).
fn check_email_from(config: &Config, before: Option<&str>, after: &PortalSettings, field: &str) -> Result<(), AppError> {
    match after.email_from.as_deref() {
        Some(from) if Some(from) != before && !config.allows_sender(from) => {
            let domains: Vec<&str> = config.allowed_sender_domains.iter().map(Domain::as_str).collect();
            Err(AppError::field(field, format!("must be an address in one of this deployment's sender domains ({})", domains.join(", "))))
        }
        _ => Ok(()),
    }
}

#[tracing::instrument(skip_all)]
pub async fn create_portal<S: PortalStore>(
    store: &S,
    config: &Config,
    token: &AdminToken,
    body: Map<String, Value>,
    now: Timestamp,
) -> Result<Portal, AppError> {
    if !token.is_global() {
        return Err(AppError::Forbidden("this admin token is scoped to one portal and cannot create portals".into()));
    }
    let nested = body.get("settings").is_some_and(Value::is_object);
    let (name, settings) = parse_new_portal(body)?;
    check_email_from(config, None, &settings, if nested { "settings.email_from" } else { "email_from" })?;
    let portal = Portal { id: Uuid::new_v4(), name: name.as_str().to_string(), settings, created_at: now, updated_at: now, version: 1 };
    store.create_portal(&portal).await?;
    Ok(portal)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortalPatch {
    pub name: Option<String>,
    pub settings: Option<SettingsPatch>,
}

#[tracing::instrument(skip_all, fields(portal_id = %id))]
pub async fn patch_portal<S: PortalStore>(
    store: &S,
    config: &Config,
    token: &AdminToken,
    id: Uuid,
    patch: PortalPatch,
    now: Timestamp,
) -> Result<Portal, AppError> {
    let mut portal = portal_for(store, token, id).await?;
    let mut fields = Fields::default();
    if let Some(n) = &patch.name {
        if let Some(n) = fields.check("name", PortalName::parse(n)) {
            portal.name = n.as_str().to_string();
        }
    }
    if let Some(s) = patch.settings {
        match s.apply(portal.settings.clone(), "settings.", validate_override) {
            Ok(s) => match check_email_from(config, portal.settings.email_from.as_deref(), &s, "settings.email_from") {
                Ok(()) => portal.settings = s,
                Err(AppError::Invalid(errs)) => errs.into_iter().for_each(|e| fields.push(&e.field, e.message)),
                Err(e) => return Err(e),
            },
            Err(errs) => errs.into_iter().for_each(|e| fields.push(&e.field, e.message)),
        }
    }
    fields.finish()?;
    portal.bump(now);
    store
        .update_portal(&portal)
        .await
        .on_conflict(|| AppError::Conflict("the portal was changed by another request; read it again and retry".into()))?;
    Ok(portal)
}

/// The portals a token may open, oldest first: for a global token a page of the portal index
/// (one `Query`); a portal-scoped token sees only its own portal (one `GetItem`), one page.
#[tracing::instrument(skip_all)]
pub async fn list_portals<S: PortalStore>(
    store: &S,
    token: &AdminToken,
    limit: usize,
    cursor: Option<String>,
) -> Result<Page<PortalEntry>, AppError> {
    if token.is_global() {
        return Ok(store.list_portals(limit, cursor.filter(|c| !c.is_empty())).await?);
    }
    let id = Uuid::parse_str(&token.scope).map_err(|_| AppError::not_found("portal"))?;
    let portal = portal_for(store, token, id).await?;
    Ok(Page { items: vec![PortalEntry::from(&portal)], total: Some(1), next_cursor: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_portal_takes_settings_at_the_top_level_or_nested() {
        let top: Map<String, Value> = serde_json::from_str(r#"{"name": "Acme", "auto_approve": true}"#).unwrap();
        let (name, s) = parse_new_portal(top).unwrap();
        assert_eq!(name.as_str(), "Acme");
        assert!(s.auto_approve);
        let nested: Map<String, Value> =
            serde_json::from_str(r#"{"name": "Acme", "settings": {"trusted_domains": ["acme.com"]}}"#).unwrap();
        assert_eq!(parse_new_portal(nested).unwrap().1.trusted_domains.len(), 1);
    }

    #[test]
    fn a_new_portal_with_an_unknown_setting_names_it() {
        let body: Map<String, Value> = serde_json::from_str(r#"{"name": "Acme", "auto_aprove": true}"#).unwrap();
        match parse_new_portal(body) {
            Err(AppError::Invalid(errs)) => assert_eq!(errs[0].field, "auto_aprove"),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    fn token(scope: &str) -> AdminToken {
        AdminToken {
            id: "t".into(),
            name: "t".into(),
            scope: scope.into(),
            token_hash: String::new(),
            created_at: chrono::Utc::now(),
            expires_at: None,
        }
    }

    #[tokio::test]
    async fn a_global_token_pages_through_every_portal_oldest_first_and_a_scoped_token_sees_only_its_own() {
        let store = crate::fakes::MemStore::default();
        let t0 = chrono::Utc::now();
        let mut ids = Vec::new();
        for i in 0..5 {
            let mut p = crate::fakes::portal(PortalSettings::default());
            p.created_at = t0 + chrono::Duration::seconds(i);
            ids.push(p.id);
            store.add_portal(p);
        }
        let first = list_portals(&store, &token("*"), 3, None).await.unwrap();
        assert_eq!(first.items.iter().map(|p| p.id).collect::<Vec<_>>(), ids[..3]);
        let second = list_portals(&store, &token("*"), 3, first.next_cursor).await.unwrap();
        assert_eq!(second.items.iter().map(|p| p.id).collect::<Vec<_>>(), ids[3..]);
        assert!(second.next_cursor.is_none());
        let scoped = list_portals(&store, &token(&ids[2].to_string()), 3, None).await.unwrap();
        assert_eq!(scoped.items.iter().map(|p| p.id).collect::<Vec<_>>(), vec![ids[2]]);
        assert!(store.take_calls().iter().all(|c| c != "scan"), "no Scan");
    }
}
