//! Every lifecycle change through the use case: each of the 16 (from, to) pairs, the forbidden
//! transition and the lost race told apart by type, and what each change writes with it.

use crate::domain::*;
use crate::fakes::{self, MemStore};
use crate::lifecycle::{change_developer, ChangeError, Changed};

const STATES: [DeveloperState; 4] = [DeveloperState::Pending, DeveloperState::Approved, DeveloperState::Rejected, DeveloperState::Revoked];

/// A store with one developer in `state` (a pending one with its open approval request).
fn with_developer(state: DeveloperState) -> (MemStore, Developer) {
    let store = MemStore::default();
    let portal = fakes::portal(PortalSettings::default());
    let mut dev = fakes::developer(&portal, Origin::Registered, Some("dev@example.com"), None, state, "hash");
    if state == DeveloperState::Pending {
        dev.approval_id = Some(uuid::Uuid::now_v7());
        dev.approval_ids = dev.approval_id.into_iter().collect();
        store.approvals.lock().unwrap().insert(dev.approval_id.unwrap(), Approval::for_registration(&dev, dev.created_at));
    }
    store.add_portal(portal);
    store.add_developer(dev.clone());
    (store, dev)
}

async fn change(store: &MemStore, dev: Developer, to: DeveloperState) -> Result<Changed, ChangeError> {
    let now = chrono::Utc::now();
    change_developer(store, dev, Some(to), None, &Actor::admin("tok"), None, RejectAction::Keep, now).await
}

#[tokio::test]
async fn every_allowed_transition_is_written_with_its_event_and_every_other_is_forbidden_by_type() {
    for from in STATES {
        for to in STATES {
            let (store, dev) = with_developer(from);
            let result = change(&store, dev.clone(), to).await;
            match lifecycle::transition(from, to) {
                Ok(_) => {
                    let after = match result {
                        Ok(Changed::Updated(d)) => d,
                        other => panic!("{from} → {to}: {other:?}"),
                    };
                    assert_eq!(after.state, to);
                    assert_eq!(after.version, dev.version + 1, "one version rule");
                    assert_eq!(store.developer(dev.id).unwrap(), after, "{from} → {to} stored");
                    let events = store.events();
                    assert_eq!(events.len(), 1, "{from} → {to}");
                    assert_eq!(events[0].event_type, EventType::entering(to));
                    assert_eq!((events[0].from_state, events[0].to_state), (Some(from), Some(to)));
                    assert_eq!(
                        after.session_epoch,
                        dev.session_epoch + u64::from(from == DeveloperState::Approved),
                        "leaving approved ends sessions"
                    );
                    let approvals = store.approvals.lock().unwrap();
                    if from == DeveloperState::Pending {
                        let closed = &approvals[&dev.approval_id.unwrap()];
                        let decided = if to == DeveloperState::Approved { ApprovalStatus::Accepted } else { ApprovalStatus::Rejected };
                        assert_eq!(closed.status, decided);
                        assert_eq!(after.approval_id, None);
                    }
                    if to == DeveloperState::Pending {
                        let open = after.approval_id.expect("a new request");
                        assert_eq!(approvals[&open].status, ApprovalStatus::Pending);
                    }
                }
                Err(forbidden) => {
                    assert!(matches!(result, Err(ChangeError::Forbidden(f)) if f == forbidden), "{from} → {to}");
                    assert_eq!(store.developer(dev.id).unwrap(), dev, "nothing written");
                    assert!(store.events().is_empty());
                }
            }
        }
    }
}

#[tokio::test]
async fn of_two_racing_decisions_one_wins_and_the_other_loses_the_race_by_type() {
    let (store, dev) = with_developer(DeveloperState::Pending);
    let (a, b) = tokio::join!(change(&store, dev.clone(), DeveloperState::Approved), change(&store, dev.clone(), DeveloperState::Rejected));
    let lost = [&a, &b].iter().filter(|r| matches!(r, Err(ChangeError::LostRace))).count();
    let won = [&a, &b].iter().filter(|r| matches!(r, Ok(Changed::Updated(_)))).count();
    assert_eq!((won, lost), (1, 1), "{a:?} {b:?}");
    assert_eq!(store.events().len(), 1, "only the winner's event");
    let answer = crate::AppError::from(ChangeError::LostRace).to_string();
    assert_eq!(answer, "the developer was changed by another request; read it again and retry");
    let forbidden = crate::AppError::from(ChangeError::Forbidden(
        lifecycle::transition(DeveloperState::Approved, DeveloperState::Rejected).unwrap_err(),
    ));
    assert_eq!(forbidden.to_string(), "a approved developer cannot become rejected: the lifecycle does not allow this transition");
}

#[tokio::test]
async fn a_rejection_with_reject_action_delete_removes_the_developer() {
    let (store, dev) = with_developer(DeveloperState::Pending);
    let now = chrono::Utc::now();
    let r =
        change_developer(&store, dev.clone(), Some(DeveloperState::Rejected), None, &Actor::admin("t"), None, RejectAction::Delete, now)
            .await;
    assert!(matches!(r, Ok(Changed::Deleted(d)) if d.state == DeveloperState::Rejected));
    assert_eq!(store.developer(dev.id), None);
    assert_eq!(store.events().last().unwrap().event_type, EventType::Deleted);
}

#[tokio::test]
async fn a_rename_without_a_state_change_is_an_update_event() {
    let (store, dev) = with_developer(DeveloperState::Approved);
    let name = PersonName::parse("New Name").unwrap();
    let r = change_developer(&store, dev.clone(), None, Some(name), &Actor::admin("t"), None, RejectAction::Keep, chrono::Utc::now()).await;
    let after = match r {
        Ok(Changed::Updated(d)) => d,
        other => panic!("{other:?}"),
    };
    assert_eq!((after.name.as_str(), after.state), ("New Name", DeveloperState::Approved));
    assert_eq!(store.events()[0].event_type, EventType::Updated);
}
