//! Teams and memberships; applications and their credentials (API keys).

use uuid::Uuid;

use super::attr::{item_str, key, s, to_item, Expr, Item};
use super::cursor::{fingerprint, page_items, page_of, start_key, KeyShape};
use super::models::{decode, encode, AppItem, CredentialItem, DeveloperItem, EventItem, MembershipItem, TeamItem, TeamNameMarker};
use super::ops::Query;
use super::tx::{Label, Tx};
use super::{keys, read_version, version_is, Dynamo};
use crate::domain::{Application, Credential, Developer, LifecycleEvent, Team};
use crate::store::{AppStore, Page, StoreResult, TeamStore};

/// At most this many credentials are deleted with their application in its transaction.
const MAX_CREDENTIALS: usize = 90;

fn exists() -> Expr {
    Expr::new("attribute_exists(pk)")
}

impl TeamStore for Dynamo {
    async fn create_team(&self, team: &Team) -> StoreResult<()> {
        let mut tx = Tx::new(self);
        tx.create(Label::Team, encode::<TeamItem>(team)?)?;
        tx.create(Label::TeamName, to_item(&TeamNameMarker::new(team))?)?;
        tx.commit(self).await
    }

    async fn get_team(&self, id: Uuid) -> StoreResult<Option<Team>> {
        self.get_as::<TeamItem>(key(keys::team(id), keys::TEAM_SK)).await
    }

    async fn list_teams(&self, portal_id: Uuid, limit: usize, cursor: Option<String>) -> StoreResult<Page<Team>> {
        let limit = limit.clamp(1, 100);
        let partition = keys::teams(portal_id);
        let f = fingerprint(&[&partition]);
        let shape = KeyShape::index("gsi2pk", "gsi2sk", &partition);
        let start = start_key(cursor.as_deref(), &f, &shape)?;
        let items =
            self.query(&Query::new(Some("gsi2"), "gsi2pk = :p", vec![(":p", s(partition.clone()))]), start, Some(limit + 1)).await?;
        page_of::<TeamItem>(items, limit, f, &shape.attrs, None)
    }

    async fn change_memberships(
        &self,
        before: &Developer,
        after: &Developer,
        join: &[Team],
        leave: &[Uuid],
        events: &[LifecycleEvent],
    ) -> StoreResult<()> {
        let mut tx = Tx::new(self);
        self.put_developer(&mut tx, before, after)?;
        for team in join {
            tx.create(Label::Membership, to_item(&MembershipItem::new(team, before.id))?)?;
            tx.check(Label::Team, key(keys::team(team.id), keys::TEAM_SK), exists())?;
        }
        for team in leave {
            tx.delete_if(Label::Membership, key(keys::developer(before.id), &keys::team(*team)), exists())?;
        }
        for e in events {
            tx.put(Label::Event, encode::<EventItem>(e)?, None)?;
        }
        tx.commit(self).await
    }

    async fn team_members(&self, team_id: Uuid, limit: usize, cursor: Option<String>) -> StoreResult<Page<Developer>> {
        let limit = limit.clamp(1, 100);
        let partition = keys::members(team_id);
        let f = fingerprint(&[&partition]);
        let shape = KeyShape::index("gsi1pk", "gsi1sk", &partition);
        let start = start_key(cursor.as_deref(), &f, &shape)?;
        // The page of memberships (limit + 1) and the exact count, concurrently; then the
        // page's developers in one BatchGetItem.
        let query = Query::new(Some("gsi1"), "gsi1pk = :p", vec![(":p", s(partition.clone()))]);
        let (members, total) = tokio::join!(self.query(&query, start, Some(limit + 1)), self.count_matches(&query));
        let (members, total) = (members?, total?);
        let (members, next_cursor) = page_items(members, limit, f, &shape.attrs);
        let keys_: Vec<Item> = members.iter().filter_map(|m| item_str(m, "pk")).map(|pk| key(pk, keys::PROFILE)).collect();
        let mut devs: Vec<Developer> = self.batch_get(keys_).await?.into_iter().map(decode::<DeveloperItem>).collect::<StoreResult<_>>()?;
        devs.sort_by_key(|d| d.id);
        Ok(Page { items: devs, total: Some(total), next_cursor })
    }
}

impl AppStore for Dynamo {
    async fn create_app(&self, before: &Developer, after: &Developer, app: &Application, event: &LifecycleEvent) -> StoreResult<()> {
        let mut tx = Tx::new(self);
        tx.put(Label::Event, encode::<EventItem>(event)?, None)?;
        self.put_developer(&mut tx, before, after)?;
        tx.create(Label::App, encode::<AppItem>(app)?)?;
        tx.commit(self).await
    }

    async fn get_app(&self, developer_id: Uuid, app_id: Uuid) -> StoreResult<Option<Application>> {
        self.get_as::<AppItem>(key(keys::developer(developer_id), &keys::app(app_id))).await
    }

    async fn list_apps(&self, developer_id: Uuid) -> StoreResult<Vec<Application>> {
        let values = vec![(":pk", s(keys::developer(developer_id))), (":app", s(keys::APP_PREFIX))];
        let items = self.query(&Query::new(None, "pk = :pk AND begins_with(sk, :app)", values), None, None).await?;
        items.into_iter().map(decode::<AppItem>).collect()
    }

    async fn update_app(&self, app: &Application) -> StoreResult<()> {
        let mut tx = Tx::new(self);
        tx.put_if(Label::App, encode::<AppItem>(app)?, version_is(read_version(app.version)))?;
        tx.commit(self).await
    }

    async fn delete_app(&self, before: &Developer, after: &Developer, app: &Application, event: &LifecycleEvent) -> StoreResult<()> {
        let creds = self.list_credentials(app.developer_id, app.id).await?;
        let mut tx = Tx::new(self);
        tx.put(Label::Event, encode::<EventItem>(event)?, None)?;
        self.put_developer(&mut tx, before, after)?;
        tx.delete_if(Label::App, key(keys::developer(app.developer_id), &keys::app(app.id)), exists())?;
        for c in creds.iter().take(MAX_CREDENTIALS) {
            tx.delete(Label::Credential, key(keys::developer(c.developer_id), &keys::api_key(&c.key_hash)))?;
        }
        tx.commit(self).await
    }

    async fn put_credential(&self, c: &Credential, event: &LifecycleEvent) -> StoreResult<()> {
        let mut tx = Tx::new(self);
        tx.put(Label::Event, encode::<EventItem>(event)?, None)?;
        tx.check(Label::App, key(keys::developer(c.developer_id), &keys::app(c.application_id)), exists())?;
        tx.create(Label::Credential, encode::<CredentialItem>(c)?)?;
        tx.commit(self).await
    }

    async fn list_credentials(&self, developer_id: Uuid, app_id: Uuid) -> StoreResult<Vec<Credential>> {
        let values = vec![(":pk", s(keys::developer(developer_id))), (":key", s(keys::KEY_PREFIX))];
        let of_app = ("application_id = :app", vec![(":app", s(app_id.to_string()))], vec![]);
        let query = Query::new(None, "pk = :pk AND begins_with(sk, :key)", values).filter(Some(of_app));
        self.query(&query, None, None).await?.into_iter().map(decode::<CredentialItem>).collect()
    }

    async fn delete_credential(&self, c: &Credential, event: &LifecycleEvent) -> StoreResult<()> {
        let mut tx = Tx::new(self);
        tx.delete_if(Label::Credential, key(keys::developer(c.developer_id), &keys::api_key(&c.key_hash)), exists())?;
        tx.put(Label::Event, encode::<EventItem>(event)?, None)?;
        tx.commit(self).await
    }

    async fn key_lookup(
        &self,
        developer_id: Uuid,
        app_id: Uuid,
        key_hash: &str,
    ) -> StoreResult<(Option<Credential>, Option<Developer>, Option<Application>)> {
        let items = self
            .batch_get(vec![
                key(keys::developer(developer_id), keys::PROFILE),
                key(keys::developer(developer_id), &keys::api_key(key_hash)),
                key(keys::developer(developer_id), &keys::app(app_id)),
            ])
            .await?;
        let (mut c, mut d, mut a) = (None, None, None);
        for item in items {
            match item_str(&item, "kind").as_deref() {
                Some(keys::kind::DEVELOPER) => d = Some(decode::<DeveloperItem>(item)?),
                Some(keys::kind::CREDENTIAL) => c = Some(decode::<CredentialItem>(item)?),
                Some(keys::kind::APPLICATION) => a = Some(decode::<AppItem>(item)?),
                _ => {}
            }
        }
        Ok((c, d, a))
    }
}
