//! The audit trail over the in-memory ports: filters, paging, a deleted developer's history,
//! portal isolation and the refusal of bad parameters.

use uuid::Uuid;

use crate::audit::{list_events, EventParams};
use crate::domain::*;
use crate::error::AppError;
use crate::fakes::{self, MemStore};
use crate::lifecycle::{change_developer, delete_developer};
use crate::store::AdminToken;

fn token(scope: &str) -> AdminToken {
    AdminToken {
        id: "tok".into(),
        name: "ops".into(),
        scope: scope.into(),
        token_hash: "h".into(),
        created_at: chrono::Utc::now(),
        expires_at: None,
    }
}

/// A portal with two developers, one approved then revoked by an admin, and one deleted.
async fn history() -> (MemStore, Portal, Developer, Developer) {
    let store = MemStore::default();
    let portal = fakes::portal(PortalSettings::default());
    let ann = fakes::developer(&portal, Origin::Registered, Some("ann@example.com"), None, DeveloperState::Pending, "hash");
    let bob = fakes::developer(&portal, Origin::Registered, Some("bob@example.com"), None, DeveloperState::Approved, "hash");
    store.add_portal(portal.clone());
    store.add_developer(ann.clone());
    store.add_developer(bob.clone());
    let now = chrono::Utc::now();
    let admin = Actor::admin("tok");
    let ann = change_developer(&store, ann, Some(DeveloperState::Approved), None, &admin, None, RejectAction::Keep, now)
        .await
        .unwrap()
        .developer()
        .clone();
    change_developer(&store, ann.clone(), Some(DeveloperState::Revoked), None, &admin, Some("abuse".into()), RejectAction::Keep, now)
        .await
        .unwrap();
    delete_developer(&store, &token("*"), portal.id, bob.id, now).await.unwrap();
    (store, portal, ann, bob)
}

fn params(pairs: &[(&str, &str)]) -> EventParams {
    let get = |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string());
    EventParams {
        event_type: get("type"),
        developer_id: get("developer_id"),
        actor: get("actor"),
        since: get("since"),
        until: get("until"),
        limit: get("limit"),
        cursor: get("cursor"),
    }
}

fn types(events: &[LifecycleEvent]) -> Vec<EventType> {
    events.iter().map(|e| e.event_type).collect()
}

#[tokio::test]
async fn the_portal_feed_is_newest_first_and_a_family_or_one_type_narrows_it() {
    let (store, portal, _, _) = history().await;
    let all = list_events(&store, &token("*"), portal.id, None, &params(&[])).await.unwrap();
    assert_eq!(types(&all.items), [EventType::Deleted, EventType::Revoked, EventType::Approved]);
    let revoked = list_events(&store, &token("*"), portal.id, None, &params(&[("type", "developer.revoked")])).await.unwrap();
    assert_eq!(types(&revoked.items), [EventType::Revoked]);
    assert_eq!(revoked.items[0].reason.as_deref(), Some("abuse"));
    let family = list_events(&store, &token("*"), portal.id, None, &params(&[("type", "developer.*")])).await.unwrap();
    assert_eq!(family.items.len(), 3);
    let invites = list_events(&store, &token("*"), portal.id, None, &params(&[("type", "invite.*")])).await.unwrap();
    assert!(invites.items.is_empty());
    let by_admin = list_events(&store, &token("*"), portal.id, None, &params(&[("actor", "admin:tok")])).await.unwrap();
    assert_eq!(by_admin.items.len(), 3);
    let by_system = list_events(&store, &token("*"), portal.id, None, &params(&[("actor", "system")])).await.unwrap();
    assert!(by_system.items.is_empty());
}

#[tokio::test]
async fn a_deleted_developers_history_stays_readable_and_pages_with_a_cursor() {
    let (store, portal, ann, bob) = history().await;
    assert!(store.developer(bob.id).is_none(), "deleted");
    let gone = list_events(&store, &token("*"), portal.id, Some(bob.id), &params(&[])).await.unwrap();
    assert_eq!(types(&gone.items), [EventType::Deleted]);
    let first = list_events(&store, &token("*"), portal.id, Some(ann.id), &params(&[("limit", "1")])).await.unwrap();
    assert_eq!(types(&first.items), [EventType::Revoked]);
    let cursor = first.next_cursor.expect("a second page");
    let second = list_events(&store, &token("*"), portal.id, Some(ann.id), &params(&[("limit", "1"), ("cursor", &cursor)])).await.unwrap();
    assert_eq!(types(&second.items), [EventType::Approved]);
    assert_eq!(second.next_cursor, None);
}

#[tokio::test]
async fn a_time_window_keeps_only_the_events_inside_it() {
    let (store, portal, _, _) = history().await;
    let later = (chrono::Utc::now() + chrono::Duration::seconds(5)).to_rfc3339();
    let none = list_events(&store, &token("*"), portal.id, None, &params(&[("since", &later)])).await.unwrap();
    assert!(none.items.is_empty());
    let all = list_events(&store, &token("*"), portal.id, None, &params(&[("until", &later)])).await.unwrap();
    assert_eq!(all.items.len(), 3);
}

#[tokio::test]
async fn another_portals_token_gets_404_and_bad_parameters_are_named() {
    let (store, portal, ann, _) = history().await;
    let other = token(&Uuid::new_v4().to_string());
    assert!(matches!(list_events(&store, &other, portal.id, None, &params(&[])).await, Err(AppError::NotFound { what: "portal" })));
    let missing = list_events(&store, &token("*"), Uuid::new_v4(), None, &params(&[])).await;
    assert!(matches!(missing, Err(AppError::NotFound { what: "portal" })));
    let bad = params(&[("type", "developer"), ("actor", "root"), ("since", "yesterday"), ("limit", "0"), ("developer_id", "x")]);
    match list_events(&store, &token("*"), portal.id, Some(ann.id), &bad).await {
        Err(AppError::Invalid(errors)) => {
            let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
            assert_eq!(fields, ["type", "actor", "since", "developer_id", "limit"]);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn team_application_and_credential_changes_are_events_without_the_key() {
    use crate::applications::{create_app, create_credential, delete_app, delete_credential, NewApplication};
    use crate::sessions::Authenticated;
    use crate::teams::{add_member, create_team, remove_member, MemberRef, NewTeam};
    let (store, portal, ann, _) = history().await;
    let now = chrono::Utc::now();
    let admin = token("*");
    let team = create_team(&store, &admin, portal.id, NewTeam { name: "Billing".into(), description: None }, now).await.unwrap();
    add_member(&store, &admin, portal.id, team.id, MemberRef { id: ann.id.to_string() }, now).await.unwrap();
    remove_member(&store, &admin, portal.id, team.id, ann.id, now).await.unwrap();
    // Ann is revoked; the store does not care: sign her in as an approved developer.
    let mut dev = store.developer(ann.id).unwrap();
    dev.state = DeveloperState::Approved;
    store.add_developer(dev);
    let auth = || {
        let developer = store.developer(ann.id).unwrap();
        let session = Session {
            developer_id: ann.id,
            portal_id: portal.id,
            token_hash: "h".into(),
            epoch: developer.session_epoch,
            created_at: now,
            expires_at: now + chrono::Duration::hours(1),
        };
        Authenticated { developer, session }
    };
    let app = create_app(&store, auth(), NewApplication { name: "Sync".into(), description: None }, now).await.unwrap();
    let (cred, key) = create_credential(&store, &auth(), app.id, now).await.unwrap();
    delete_credential(&store, &auth(), app.id, cred.id, now).await.unwrap();
    delete_app(&store, auth(), app.id, now).await.unwrap();
    let history = list_events(&store, &admin, portal.id, Some(ann.id), &params(&[])).await.unwrap();
    assert_eq!(
        types(&history.items)[..6],
        [
            EventType::ApplicationDeleted,
            EventType::CredentialDeleted,
            EventType::CredentialCreated,
            EventType::ApplicationCreated,
            EventType::TeamMemberRemoved,
            EventType::TeamMemberAdded,
        ]
    );
    let views: Vec<String> = history.items.iter().map(|e| audit::event_view(e).to_string()).collect();
    assert!(views[2].contains(&cred.id.to_string()) && views[2].contains(&app.id.to_string()), "{}", views[2]);
    assert!(views[5].contains(&team.id.to_string()) && views[5].contains("Billing"), "{}", views[5]);
    assert!(
        views.iter().all(|v| !v.contains(&key) && !v.contains(&cred.key_hash) && !v.contains(&cred.key_prefix)),
        "no key, hash or prefix"
    );
    let teams = list_events(&store, &admin, portal.id, None, &params(&[("type", "team.*")])).await.unwrap();
    assert_eq!(types(&teams.items), [EventType::TeamMemberRemoved, EventType::TeamMemberAdded]);
}

#[tokio::test]
async fn admin_changes_and_deletes_are_kept_as_long_as_the_portal_says() {
    use crate::lifecycle::{patch_developer, DeveloperPatch};
    let store = MemStore::default();
    let portal = fakes::portal(PortalSettings { audit_retention_days: Some(7), ..Default::default() });
    let dev = fakes::developer(&portal, Origin::Registered, Some("kim@example.com"), None, DeveloperState::Approved, "hash");
    store.add_portal(portal.clone());
    store.add_developer(dev.clone());
    let now = chrono::Utc::now();
    let patch = DeveloperPatch { status: Some("revoked".into()), state: None, name: None };
    patch_developer(&store, &token("*"), portal.id, dev.id, patch, now).await.unwrap();
    delete_developer(&store, &token("*"), portal.id, dev.id, now).await.unwrap();
    let kept: Vec<(EventType, Option<u16>)> = store.events().iter().map(|e| (e.event_type, e.retention_days)).collect();
    assert_eq!(kept, [(EventType::Revoked, Some(7)), (EventType::Deleted, Some(7))]);
}
