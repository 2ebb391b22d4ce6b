//! Developers: registration (with its markers, approval, invite, link and event in one
//! transaction), changes, deletion with everything the developer owns, and the counters.

use uuid::Uuid;

use super::attr::{from_item, item_str, key, millis, n, s, to_item, Expr, Item};
use super::models::{decode, encode, ApprovalItem, CountersItem, DeveloperItem, EventItem, InviteItem, LinkItem, LoginMarker, SessionItem};
use super::ops::Query;
use super::tx::{Cancelled, Label, Tx, TxError};
use super::{keys, read_version, version_is, Dynamo};
use crate::domain::{ApprovalStatus, Developer, LifecycleEvent, APPROVAL_EVENT_REGISTRATION};
use crate::store::{
    DeveloperChange, DeveloperQuery, DeveloperStore, NewDeveloper, Page, RegisterError, StateCounts, StoreError, StoreResult,
};

/// A transaction holds at most this many items.
const MAX_TX_ITEMS: usize = 100;

impl Dynamo {
    /// The developer written back, conditional on the version and state read.
    pub(crate) fn put_developer(&self, tx: &mut Tx<'_>, before: &Developer, after: &Developer) -> StoreResult<()> {
        // `state` is a reserved word: the condition needs a name placeholder.
        let condition = Expr::new("attribute_exists(pk) AND version = :v AND #state = :s")
            .name("#state", "state")
            .value(":v", n(before.version as i64))
            .value(":s", s(before.state.as_str()));
        tx.put_if(Label::Developer, encode::<DeveloperItem>(after)?, condition)?;
        Ok(())
    }

    fn login_markers(d: &Developer) -> Vec<(Label, String)> {
        let email = d.email_norm.as_ref().map(|e| (Label::EmailMarker, keys::email_marker(d.portal_id, e)));
        let username = d.username.as_ref().map(|u| (Label::UsernameMarker, keys::username_marker(d.portal_id, &u.to_lowercase())));
        email.into_iter().chain(username).collect()
    }
}

/// Reads a cancelled registration: the username marker wins over the email marker (a taken
/// username is 409 whatever the email), then the invite, then the developer.
pub(crate) fn registration_cancelled(c: &Cancelled) -> RegisterError {
    if c.failed(Label::UsernameMarker) {
        return RegisterError::UsernameTaken;
    }
    if c.failed(Label::EmailMarker) {
        let owner =
            c.old_str(Label::EmailMarker, "developer_id").and_then(|id| Some((id.parse().ok()?, c.old_str(Label::EmailMarker, "email")?)));
        return RegisterError::EmailTaken(owner);
    }
    if c.failed(Label::Invite) {
        return RegisterError::InviteUsed;
    }
    if c.failed(Label::Developer) {
        return RegisterError::Store(StoreError::Conflict);
    }
    RegisterError::Store(c.unavailable())
}

impl Dynamo {
    /// The items of a new developer's write (developer, login markers, approval, accepted
    /// invite, verification link, event, counters), for [`Self::send_registration`].
    pub(crate) fn registration_tx(&self, new: &NewDeveloper) -> StoreResult<Tx<'_>> {
        let d = &new.developer;
        let mut tx = Tx::new(self);
        tx.create(Label::Developer, encode::<DeveloperItem>(d)?)?;
        for (label, pk) in Self::login_markers(d) {
            tx.create(label, to_item(&LoginMarker::new(pk, d))?)?;
        }
        if let Some(a) = &new.approval {
            tx.put(Label::Approval, encode::<ApprovalItem>(a)?, None)?;
        }
        if let Some(inv) = &new.accepted_invite {
            let condition = Expr::new("#status = :pending AND token_hash = :h AND version = :v")
                .name("#status", "status")
                .value(":pending", s(crate::domain::InviteStatus::Pending.as_str()))
                .value(":h", s(inv.token_hash.clone()))
                .value(":v", n(read_version(inv.version) as i64));
            tx.put_if(Label::Invite, encode::<InviteItem>(inv)?, condition)?;
            tx.delete(Label::InviteMarker, key(keys::invite_marker(inv.portal_id, &inv.email_norm), keys::UNIQUE))?;
        }
        if let Some(link) = &new.verification {
            tx.put(Label::Link, encode::<LinkItem>(link)?, None)?;
        }
        tx.put(Label::Event, encode::<EventItem>(&new.event)?, None)?;
        tx.count(d.portal_id, &[(d.state, 1)])?;
        Ok(tx)
    }

    /// Sends a new developer's write, reading a cancellation as the registration's refusal.
    pub(crate) async fn send_registration(&self, tx: Tx<'_>, d: &Developer) -> Result<(), RegisterError> {
        match tx.send(self).await {
            Ok(()) => Ok(()),
            Err(TxError::Cancelled(c)) => match registration_cancelled(&c) {
                // Without the old item in the reasons, read the marker.
                RegisterError::EmailTaken(None) => {
                    let e = d.email_norm.as_deref().unwrap_or_default();
                    let marker = self.get(key(keys::email_marker(d.portal_id, e), keys::UNIQUE)).await?;
                    let owner = marker.and_then(|i| from_item::<LoginMarker>(i).ok()).and_then(|m| Some((m.developer_id, m.email?)));
                    Err(RegisterError::EmailTaken(owner))
                }
                other => Err(other),
            },
            Err(TxError::Store(e)) => Err(RegisterError::Store(e)),
        }
    }
}

impl DeveloperStore for Dynamo {
    async fn register(&self, new: &NewDeveloper) -> Result<(), RegisterError> {
        let tx = self.registration_tx(new)?;
        self.send_registration(tx, &new.developer).await
    }

    async fn get_developer(&self, id: Uuid) -> StoreResult<Option<Developer>> {
        self.get_as::<DeveloperItem>(key(keys::developer(id), keys::PROFILE)).await
    }

    async fn get_developers(&self, ids: &[Uuid]) -> StoreResult<Vec<Developer>> {
        let keys_: Vec<Item> = ids.iter().map(|id| key(keys::developer(*id), keys::PROFILE)).collect();
        self.batch_get(keys_).await?.into_iter().map(decode::<DeveloperItem>).collect()
    }

    async fn change_developer(&self, change: &DeveloperChange) -> StoreResult<()> {
        let (before, after) = (&change.before, &change.after);
        let mut tx = Tx::new(self);
        self.put_developer(&mut tx, before, after)?;
        if before.state != after.state {
            tx.count(after.portal_id, &[(before.state, -1), (after.state, 1)])?;
        }
        if let Some(dec) = &change.close_approval {
            let update = Expr::new("SET #status = :st, decided_at = :at, decided_by = :by, gsi1pk = :g")
                .name("#status", "status")
                .value(":st", s(dec.status.as_str()))
                .value(":at", millis(dec.decided_at))
                .value(":by", s(dec.decided_by.clone()))
                .value(":g", s(keys::approvals(APPROVAL_EVENT_REGISTRATION, Some(dec.status))))
                .value(":pending", s(ApprovalStatus::Pending.as_str()));
            tx.update(Label::Approval, key(keys::approval(dec.approval_id), keys::APPROVAL_SK), update, Some("#status = :pending"))?;
        }
        if let Some(a) = &change.open_approval {
            tx.create(Label::Approval, encode::<ApprovalItem>(a)?)?;
        }
        if let Some(e) = &change.event {
            tx.put(Label::Event, encode::<EventItem>(e)?, None)?;
        }
        if let Some(link) = &change.consume_link {
            let single_use = Expr::new("token_hash = :h").value(":h", s(link.token_hash.clone()));
            tx.put_if(Label::Link, to_item(&LinkItem::used(link))?, single_use)?;
        }
        if let Some(session) = &change.keep_session {
            tx.put(Label::Session, encode::<SessionItem>(session)?, Some("attribute_exists(pk)"))?;
        }
        tx.commit(self).await
    }

    async fn delete_developer(&self, d: &Developer, event: &LifecycleEvent) -> StoreResult<()> {
        let mut tx = Tx::new(self);
        tx.delete_if(Label::Developer, key(keys::developer(d.id), keys::PROFILE), version_is(d.version))?;
        for (label, pk) in Self::login_markers(d) {
            tx.delete(label, key(pk, keys::UNIQUE))?;
        }
        if let Some(inv) = d.invite_id {
            tx.delete(Label::Invite, key(keys::invite(inv), keys::INVITE_SK))?;
        }
        // Everything else the developer owns lives in its item collection (pk DEV#id):
        // applications, credentials, team memberships, sessions, link tokens.
        let owned = self.query(&Query::new(None, "pk = :pk", vec![(":pk", s(keys::developer(d.id)))]), None, None).await?;
        let mut owned_keys: Vec<Item> = owned
            .iter()
            .filter(|i| item_str(i, "sk").as_deref() != Some(keys::PROFILE))
            .filter_map(|i| Some(key(item_str(i, "pk")?, &item_str(i, "sk")?)))
            .collect();
        owned_keys.extend(d.approval_ids.iter().map(|a| key(keys::approval(*a), keys::APPROVAL_SK)));
        // Beyond what fits in one transaction (with the counters and the event), owned items
        // go first in batches: credentials and sessions stop working before the developer
        // disappears, and a retried delete finds whatever is left.
        let room = MAX_TX_ITEMS - tx.len() - 2;
        if owned_keys.len() > room {
            let overflow = owned_keys.split_off(room);
            self.batch_delete(overflow).await?;
        }
        for k in owned_keys {
            tx.delete(Label::Owned, k)?;
        }
        tx.count(d.portal_id, &[(d.state, -1)])?;
        tx.put(Label::Event, encode::<EventItem>(event)?, None)?;
        tx.commit(self).await
    }

    async fn list_developers(&self, q: &DeveloperQuery) -> StoreResult<Page<Developer>> {
        self.search_developers(q).await
    }

    async fn count_developers(&self, portal_id: Uuid) -> StoreResult<Option<StateCounts>> {
        let item = self.get(key(keys::portal(portal_id), keys::COUNTERS)).await?;
        Ok(item.map(from_item::<CountersItem>).transpose()?.map(|c| c.counts()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamo::tx::reason;

    fn cancelled(failed: &[Label], old: Option<Item>) -> Cancelled {
        let labels = vec![Label::Developer, Label::EmailMarker, Label::UsernameMarker, Label::Invite, Label::Event, Label::Counters];
        let reasons = labels
            .iter()
            .map(|l| if failed.contains(l) { reason(Some("ConditionalCheckFailed"), old.clone()) } else { reason(Some("None"), None) })
            .collect();
        Cancelled::new(labels, reasons)
    }

    #[test]
    fn a_taken_username_wins_over_a_taken_email_then_the_invite_then_the_developer() {
        assert!(matches!(
            registration_cancelled(&cancelled(&[Label::EmailMarker, Label::UsernameMarker], None)),
            RegisterError::UsernameTaken
        ));
        assert!(matches!(registration_cancelled(&cancelled(&[Label::EmailMarker, Label::Invite], None)), RegisterError::EmailTaken(None)));
        assert!(matches!(registration_cancelled(&cancelled(&[Label::Invite, Label::Developer], None)), RegisterError::InviteUsed));
        assert!(matches!(registration_cancelled(&cancelled(&[Label::Developer], None)), RegisterError::Store(StoreError::Conflict)));
        assert!(matches!(registration_cancelled(&cancelled(&[], None)), RegisterError::Store(StoreError::Unavailable(_))));
    }

    #[test]
    fn a_taken_email_names_its_owner_from_the_marker_returned_with_the_cancellation() {
        let owner = Uuid::now_v7();
        let marker = Item::from([("developer_id".to_string(), s(owner.to_string())), ("email".to_string(), s("Ada@example.com"))]);
        match registration_cancelled(&cancelled(&[Label::EmailMarker], Some(marker))) {
            RegisterError::EmailTaken(Some((id, email))) => assert_eq!((id, email.as_str()), (owner, "Ada@example.com")),
            other => panic!("{other:?}"),
        }
    }
}
