//! The stream consumer: reacts to lifecycle events inserted in the table (the outbox).
//! Auto-approves per the portal's policy and sends the mail each event owes, exactly once per
//! event (a conditional marker guards each send), reporting partial batch failures.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use futures::StreamExt;

use serde_json::Value;
use tokio::sync::OnceCell;
use uuid::Uuid;

use crate::clock::Clock;
use crate::config::Config;
use crate::domain::*;
use crate::error::{error_chain, AppError, BoxError};
use crate::lifecycle::{change_developer, ChangeError, Changed};
use crate::mail::{render, MailContext, MailKind, Mailer, OutgoingMail, SendError};
use crate::store::*;
use crate::tokens::{self, link_for_event};
use crate::wiring::SecretLoader;

/// How long a claimed-but-unconfirmed send blocks others before it may be retried.
pub const MAIL_LEASE_SECONDS: i64 = 20;

#[derive(Debug, thiserror::Error)]
pub enum ConsumeError {
    #[error("the record is not a readable lifecycle event")]
    Malformed(#[source] BoxError),
    #[error(transparent)]
    App(#[from] AppError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("sending mail failed")]
    Mail(#[source] BoxError),
    #[error("another invocation is sending this mail right now")]
    MailInFlight,
}

/// What happened to one record (for logs and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Skipped,
    AutoApproved,
    Mailed(MailKind),
    AlreadyMailed(MailKind),
    /// The mail can never be sent (render failure, budget overrun, rejected address): recorded
    /// on the event and skipped, so the record (and the shard) goes on.
    MailFailed(MailKind),
    Nothing,
}

pub struct Consumer<S, M> {
    pub store: S,
    pub mailer: M,
    pub config: Config,
    pub clock: Clock,
    /// Where the link-token secret comes from when `config` does not hold it yet.
    secret: Option<Arc<SecretLoader>>,
    /// `config` with the secret, once a record needed it.
    keyed: OnceCell<Config>,
}

impl<S, M> Consumer<S, M> {
    /// A consumer whose `config` holds the link-token secret already.
    pub fn new(store: S, mailer: M, config: Config, clock: Clock) -> Self {
        Self { store, mailer, config, clock, secret: None, keyed: OnceCell::new() }
    }

    /// A consumer that reads the link-token secret from `secret` when a record first needs it
    /// (a link to mail): a batch that mails no link, such as the first one of a sandbox
    /// skipping an unknown portal, never waits for Secrets Manager (issue 18, cold start).
    pub fn with_secret_loader(store: S, mailer: M, config: Config, clock: Clock, secret: Arc<SecretLoader>) -> Self {
        Self { secret: Some(secret), ..Self::new(store, mailer, config, clock) }
    }

    /// The configuration with the link-token secret (an unavailable secret fails the record,
    /// which the stream retries).
    async fn keyed(&self) -> Result<&Config, ConsumeError> {
        let Some(secret) = &self.secret else {
            return Ok(&self.config);
        };
        let config = self
            .keyed
            .get_or_try_init(|| async { Ok::<_, AppError>(Config { token_secret: secret.get().await?.clone(), ..self.config.clone() }) })
            .await?;
        Ok(config)
    }
}

/// Per-batch cache: each portal's settings are read once per batch, by the first record that
/// needs them; records of other chains that need them meanwhile wait for that read
/// (single-flight) instead of reading again.
#[derive(Default)]
pub struct BatchCache {
    portals: Mutex<HashMap<Uuid, Arc<OnceCell<Option<Portal>>>>>,
    portal_reads: AtomicUsize,
    /// The developers the batch's records will auto-approve, read together before the chains
    /// start (one `BatchGetItem` per 100); each is taken by the first record that approves it.
    developers: Mutex<HashMap<Uuid, Developer>>,
}

impl BatchCache {
    /// How many portal reads the batch made.
    pub fn portal_reads(&self) -> usize {
        self.portal_reads.load(Ordering::Relaxed)
    }

    /// A cache holding these developers as if the batch had read them ahead (tests: an early
    /// read that is older than the store by then).
    #[cfg(test)]
    pub(crate) fn read_ahead(developers: impl IntoIterator<Item = Developer>) -> Self {
        let cache = Self::default();
        cache.developers.lock().unwrap().extend(developers.into_iter().map(|d| (d.id, d)));
        cache
    }

    /// The developer read ahead for this batch, once: a later record of the same developer
    /// reads it again, since the first may have changed it.
    fn take_developer(&self, id: Uuid) -> Option<Developer> {
        self.developers.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&id)
    }
}

/// Result of a batch: sequence numbers to report as `batchItemFailures`.
#[derive(Debug, Default)]
pub struct BatchResult {
    /// At most one: the earliest failed record of the batch (Lambda retries from the lowest
    /// reported item, so every record after it is delivered again).
    pub failures: Vec<String>,
    /// The outcome of each record that was worked and succeeded, in stream order.
    pub outcomes: Vec<Outcome>,
    pub portal_reads: usize,
}

fn sequence_number(record: &Value) -> Option<String> {
    record.get("dynamodb")?.get("SequenceNumber")?.as_str().map(str::to_string)
}

/// The records whose order matters to each other: all events of one developer (an approval
/// must never overtake its registration), a reset request by address with the others for that
/// address; a record that cannot be read stands alone.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Chain {
    Developer(Uuid),
    Address(Uuid, String),
    Alone(usize),
}

fn chain_of(index: usize, event: &Result<Option<LifecycleEvent>, BoxError>) -> Chain {
    match event {
        Ok(Some(e)) => match (e.developer_id, e.developer.email.as_deref()) {
            (Some(id), _) => Chain::Developer(id),
            (None, Some(email)) => Chain::Address(e.portal_id, email.to_lowercase()),
            (None, None) => Chain::Alone(index),
        },
        _ => Chain::Alone(index),
    }
}

/// The automatic approval an event owes now under the portal's rule: a registration (when the
/// rule needs no confirmed address) or a confirmed address. The records decide with it, and the
/// batch's read-ahead predicts their reads with it. An address stored under older rules (a
/// Unicode local part) cannot be mailed or confirmed: no automatic approval, the admins decide.
fn approval_due(event: &LifecycleEvent, settings: &PortalSettings) -> Option<AutoApproval> {
    let verified = match event.event_type {
        EventType::Registered => false,
        EventType::EmailVerified => true,
        _ => return None,
    };
    let email = Email::parse(event.developer.email.as_deref()?).ok()?;
    auto_approval_now(settings, &email, verified)
}

/// A batch's records grouped into chains (each in stream order, chains in order of their
/// first record), with their positions in the batch.
type Chains = Vec<Vec<(usize, Result<Option<LifecycleEvent>, BoxError>)>>;

fn chains(events: Vec<Result<Option<LifecycleEvent>, BoxError>>) -> Chains {
    let mut chains: Chains = Vec::new();
    let mut index: HashMap<Chain, usize> = HashMap::new();
    for (i, event) in events.into_iter().enumerate() {
        let n = *index.entry(chain_of(i, &event)).or_insert_with(|| {
            chains.push(Vec::new());
            chains.len() - 1
        });
        chains[n].push((i, event));
    }
    chains
}

impl<S, M> Consumer<S, M>
where
    S: DeveloperStore + PortalStore + MailLedger + SessionStore + LinkStore + OutboxFeed,
    M: Mailer,
{
    /// Works a batch: its developer chains concurrently (at most `consumer_concurrency` at
    /// once), each chain's records one after another in stream order, a chain stopping at its
    /// first failure. The earliest failed record of the batch is reported: Lambda retries from
    /// there, re-delivering every record after it (of any chain); those already worked are
    /// idempotent (mail markers, conditional approvals) and cost nothing twice. A record that
    /// keeps failing is bisected out by the event source mapping and lands in the failure
    /// destination. With a concurrency of 1 the records are worked strictly in stream order
    /// and the batch stops at the first failure.
    #[tracing::instrument(skip_all, fields(records = records.len()))]
    pub async fn handle_batch(&self, records: &[Value]) -> BatchResult {
        let cache = BatchCache::default();
        let events: Vec<_> = records.iter().map(|r| self.store.inserted_event(r)).collect();
        let worked: Vec<(usize, Result<Outcome, ConsumeError>)> = if self.config.consumer_concurrency <= 1 {
            let mut worked = Vec::new();
            for (i, event) in events.into_iter().enumerate() {
                let result = self.handle_parsed(event, &cache).await;
                let failed = result.is_err();
                worked.push((i, result));
                if failed {
                    break;
                }
            }
            worked
        } else {
            let cache = &cache;
            self.read_ahead(&events, cache).await;
            let chains = chains(events).into_iter().map(|chain| async move {
                let mut worked = Vec::with_capacity(chain.len());
                for (i, event) in chain {
                    let result = self.handle_parsed(event, cache).await;
                    let failed = result.is_err();
                    worked.push((i, result));
                    if failed {
                        break; // the rest of this chain waits for the retry, in order
                    }
                }
                worked
            });
            let mut worked: Vec<_> = futures::stream::iter(chains)
                .buffer_unordered(self.config.consumer_concurrency)
                .flat_map(futures::stream::iter)
                .collect()
                .await;
            worked.sort_by_key(|(i, _)| *i);
            worked
        };
        let mut result = BatchResult { portal_reads: cache.portal_reads(), ..BatchResult::default() };
        for (i, outcome) in worked {
            match outcome {
                Ok(outcome) => result.outcomes.push(outcome),
                Err(e) => {
                    let seq = sequence_number(&records[i]).unwrap_or_default();
                    tracing::error!(sequence_number = %seq, error = %error_chain(&e), "record failed");
                    if result.failures.is_empty() {
                        result.failures.push(seq);
                    }
                }
            }
        }
        result
    }

    /// Reads in one go (one `BatchGetItem` per 100) the developers the batch's records will
    /// auto-approve, instead of one `GetItem` per record: each portal's settings first (the
    /// batch's cache, which the records use), then the developer of each registration or
    /// confirmed address that a portal's rule approves now. A failed read only costs the
    /// saving: those records read their developer themselves.
    async fn read_ahead(&self, events: &[Result<Option<LifecycleEvent>, BoxError>], cache: &BatchCache) {
        let events: Vec<&LifecycleEvent> = events.iter().filter_map(|e| e.as_ref().ok()?.as_ref()).collect();
        let mut portals: Vec<Uuid> = events.iter().map(|e| e.portal_id).collect();
        portals.sort_unstable();
        portals.dedup();
        let portals: HashMap<Uuid, Option<Portal>> =
            futures::future::join_all(portals.into_iter().map(|id| async move { (id, self.portal(id, cache).await.ok().flatten()) }))
                .await
                .into_iter()
                .collect();
        let mut seen = std::collections::HashSet::new();
        let ids: Vec<Uuid> = events
            .into_iter()
            .filter(|e| matches!(portals.get(&e.portal_id), Some(Some(p)) if approval_due(e, &p.settings).is_some()))
            .filter_map(|e| e.developer_id)
            .filter(|id| seen.insert(*id))
            .collect();
        if ids.is_empty() {
            return;
        }
        match self.store.get_developers(&ids).await {
            Ok(found) => {
                let mut developers = cache.developers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                developers.extend(found.into_iter().map(|d| (d.id, d)));
            }
            Err(e) => {
                tracing::warn!(error = %error_chain(&e), developers = ids.len(), "reading ahead failed; each record reads its developer")
            }
        }
    }

    /// One record: the unit a batch runner calls (in order per developer).
    #[tracing::instrument(skip_all)]
    pub async fn handle_record(&self, record: &Value, cache: &BatchCache) -> Result<Outcome, ConsumeError> {
        self.handle_parsed(self.store.inserted_event(record), cache).await
    }

    async fn handle_parsed(&self, event: Result<Option<LifecycleEvent>, BoxError>, cache: &BatchCache) -> Result<Outcome, ConsumeError> {
        match event.map_err(ConsumeError::Malformed)? {
            Some(event) => self.handle_event(&event, cache).await,
            None => Ok(Outcome::Skipped),
        }
    }

    async fn portal(&self, id: Uuid, cache: &BatchCache) -> Result<Option<Portal>, StoreError> {
        let cell = Arc::clone(cache.portals.lock().unwrap_or_else(std::sync::PoisonError::into_inner).entry(id).or_default());
        let portal = cell
            .get_or_try_init(|| async {
                cache.portal_reads.fetch_add(1, Ordering::Relaxed);
                self.store.get_portal(id).await
            })
            .await?;
        Ok(portal.clone())
    }

    #[tracing::instrument(skip_all, fields(event_id = %event.id, event_type = ?event.event_type, portal_id = %event.portal_id))]
    pub async fn handle_event(&self, event: &LifecycleEvent, cache: &BatchCache) -> Result<Outcome, ConsumeError> {
        let Some(portal) = self.portal(event.portal_id, cache).await? else {
            return Ok(Outcome::Skipped);
        };
        let settings = &portal.settings;
        let developer: Vec<String> = event.developer.email.clone().into_iter().collect();
        match event.event_type {
            EventType::Registered => {
                let Some(email) = event.developer.email.as_deref() else {
                    return Ok(Outcome::Nothing);
                };
                // The verification link goes out with every self-registration.
                // (An event without a nonce owes no link, and needs no secret.)
                let keyed = if event.token_nonce.is_some() { self.keyed().await? } else { &self.config };
                if let Some(token) = link_for_event(keyed, LinkPurpose::Verify, event) {
                    self.mail(event, &portal, MailKind::Verification, developer.clone(), Some(("verify-email", token))).await?;
                }
                if let Some(rule) = approval_due(event, settings) {
                    return self.auto_approve(event, rule, cache).await;
                }
                // An address stored under older rules (a Unicode local part) cannot be mailed or
                // confirmed: no automatic approval, the admins decide.
                let email = Email::parse(email).ok();
                // A rule that waits for the confirmed address (developer.email_verified) leaves
                // nothing for the admins to decide yet.
                if email.as_ref().and_then(|email| auto_approval(settings, email)).is_some() || !settings.access_request_email {
                    return Ok(Outcome::Nothing);
                }
                self.mail(event, &portal, MailKind::AccessRequest, settings.admin_emails.clone(), None).await
            }
            EventType::EmailVerified => match approval_due(event, settings) {
                Some(rule) => self.auto_approve(event, rule, cache).await,
                None => Ok(Outcome::Nothing),
            },
            // A reset request as the API writes it: an address, no developer. Decided here.
            EventType::ResetRequested if settings.reset_email && event.developer_id.is_none() => self.reset_link(event, &portal).await,
            // An event written by an older version, which issued the link itself.
            EventType::ResetRequested if settings.reset_email => match link_for_event(self.keyed().await?, LinkPurpose::Reset, event) {
                Some(token) => self.mail(event, &portal, MailKind::Reset, developer, Some(("reset-password", token))).await,
                None => Err(ConsumeError::Malformed("a reset event without its nonce".into())),
            },
            EventType::PasswordChanged if settings.password_changed_email => {
                self.mail(event, &portal, MailKind::PasswordChanged, developer, None).await
            }
            EventType::PasswordReset if settings.reset_success_email => {
                self.mail(event, &portal, MailKind::ResetSuccess, developer, None).await
            }
            EventType::Approved if settings.approved_email => self.mail(event, &portal, MailKind::Approved, developer, None).await,
            EventType::RegistrationAttempted => self.mail(event, &portal, MailKind::RegistrationAttempted, developer, None).await,
            EventType::WebhookDisabled => self.mail(event, &portal, MailKind::WebhookDisabled, settings.admin_emails.clone(), None).await,
            EventType::InviteSent if settings.invite_email => {
                let (Some(invite), Some(nonce)) = (event.invite_id, event.token_nonce.as_deref()) else {
                    return Err(ConsumeError::Malformed("an invite event without invite id or nonce".into()));
                };
                let token = tokens::invite_token(self.keyed().await?, invite, nonce).token;
                self.mail(event, &portal, MailKind::Invite, developer, Some(("invite", token))).await
            }
            _ => Ok(Outcome::Nothing),
        }
    }

    /// A reset request: only an approved developer of the portal with this address gets a link.
    /// The link is derived from the event (same token on a replay), written only if no newer
    /// request's link is stored and this one was not used yet, and mailed once (the mail
    /// marker). Costs: the email marker, then the developer, then one transaction (condition
    /// check of the developer, put of the link), then the mail; an unknown address costs the
    /// marker read only.
    async fn reset_link(&self, event: &LifecycleEvent, portal: &Portal) -> Result<Outcome, ConsumeError> {
        let Some(email) = event.developer.email.as_deref().and_then(|e| Email::parse(e).ok()) else {
            return Ok(Outcome::Nothing);
        };
        let Some(id) = self.store.find_login(portal.id, email.normalized(), true).await? else {
            return Ok(Outcome::Nothing);
        };
        let Some(dev) = self.store.get_developer(id).await?.filter(|d| d.portal_id == portal.id && lifecycle::may_access(d.state)) else {
            return Ok(Outcome::Nothing);
        };
        let keyed = self.keyed().await?;
        let nonce = tokens::reset_nonce(keyed, event.id);
        let link = tokens::link_with_nonce(keyed, &dev, LinkPurpose::Reset, nonce, portal.settings.reset_token_ttl_seconds, event.at);
        if !self.store.put_link(&link).await? {
            return Ok(Outcome::Nothing);
        }
        let mut issued = event.clone();
        issued.developer_id = Some(dev.id);
        issued.developer = dev.snapshot();
        issued.token_nonce = Some(link.nonce.clone());
        issued.expires_at = Some(link.expires_at);
        let Some(token) = link_for_event(keyed, LinkPurpose::Reset, &issued) else {
            return Ok(Outcome::Nothing);
        };
        self.mail(&issued, portal, MailKind::Reset, dev.email.clone().into_iter().collect(), Some(("reset-password", token))).await
    }

    /// Approves with the same conditional write an admin uses: a decision made meanwhile wins,
    /// and a replayed record is a quiet no-op. The developer comes from the batch's read-ahead
    /// when there is one; if the write then loses (the read is older by the records worked
    /// since), it is read again and the decision made once more on what is stored now.
    async fn auto_approve(&self, event: &LifecycleEvent, rule: AutoApproval, cache: &BatchCache) -> Result<Outcome, ConsumeError> {
        let Some(id) = event.developer_id else {
            return Ok(Outcome::Nothing);
        };
        let mut read_ahead = cache.take_developer(id);
        loop {
            let early = read_ahead.is_some();
            let dev = match read_ahead.take() {
                Some(dev) => dev,
                None => match self.store.get_developer(id).await? {
                    Some(dev) => dev,
                    None => return Ok(Outcome::Nothing),
                },
            };
            // Final even on the early read: it is newer than the event, and a developer that
            // left this approval (state or approval id) never comes back to it.
            if dev.state != DeveloperState::Pending || dev.approval_id != event.approval_id {
                return Ok(Outcome::Nothing);
            }
            let actor = Actor::system("auto-approval");
            return match change_developer(
                &self.store,
                dev,
                Some(DeveloperState::Approved),
                None,
                &actor,
                Some(rule.describe()),
                RejectAction::Keep,
                self.clock.now(),
            )
            .await
            {
                Ok(Changed::Updated(_)) | Ok(Changed::Deleted(_)) => Ok(Outcome::AutoApproved),
                // Changed since the batch read it: read it again.
                Err(ChangeError::LostRace) if early => continue,
                // An admin decided meanwhile: their decision stands.
                Err(ChangeError::LostRace) => Ok(Outcome::Nothing),
                Err(e) => Err(AppError::from(e).into()),
            };
        }
    }

    async fn mail(
        &self,
        event: &LifecycleEvent,
        portal: &Portal,
        kind: MailKind,
        to: Vec<String>,
        link: Option<(&str, String)>,
    ) -> Result<Outcome, ConsumeError> {
        if to.is_empty() {
            return Ok(Outcome::Nothing);
        }
        let now = self.clock.now();
        let mut claim = self.store.claim_mail(event.id, kind.name(), now, MAIL_LEASE_SECONDS).await?;
        if claim == MailClaim::InFlight {
            // An earlier invocation died while sending: wait its lease out once (well within
            // the function's timeout) rather than burn the retries of the event source mapping.
            tokio::time::sleep(std::time::Duration::from_secs(MAIL_LEASE_SECONDS as u64 + 1)).await;
            claim = self.store.claim_mail(event.id, kind.name(), self.clock.now(), MAIL_LEASE_SECONDS).await?;
        }
        match claim {
            MailClaim::AlreadySent => return Ok(Outcome::AlreadyMailed(kind)),
            MailClaim::Failed => return Ok(Outcome::MailFailed(kind)),
            MailClaim::InFlight => return Err(ConsumeError::MailInFlight),
            MailClaim::Acquired => {}
        }
        let portal_url = self.config.portal_links_base(portal);
        // Links carry their token as a `token` query parameter (base64url: no escaping needed).
        let token = link.as_ref().map(|(_, token)| token.clone());
        let link_url = link.map(|(path, token)| format!("{}/{path}?token={token}", portal_url.as_deref().unwrap_or("")));
        let ctx = MailContext {
            portal_name: portal.name.clone(),
            login_url: portal_url.as_ref().map(|u| format!("{u}/login")),
            portal_url,
            link_url,
            expires_at: event.expires_at.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()),
            developer_name: event.developer.name.clone(),
            developer_email: event.developer.email.clone().unwrap_or_default(),
            developer_username: event.developer.username.clone(),
            webhook_url: event.subject.as_ref().and_then(|s| s.url.clone()),
            failing_since: event.subject.as_ref().and_then(|s| s.failing_since).map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()),
        };
        // What can never be sent is recorded and skipped: it must not hold the records after it.
        let permanent = |reason: String| async move {
            let mut reason = match &token {
                Some(t) => reason.replace(t.as_str(), "<token>"),
                None => reason,
            };
            reason.truncate(reason.char_indices().nth(500).map_or(reason.len(), |(i, _)| i));
            tracing::error!(event_id = %event.id, portal_id = %event.portal_id, mail = kind.name(), %reason, "mail can never be sent; recorded as failed");
            match self.store.fail_mail(event.id, kind.name(), &reason, self.clock.now()).await {
                Ok(()) => Ok(Outcome::MailFailed(kind)),
                Err(e) => {
                    let _ = self.store.release_mail(event.id, kind.name()).await;
                    Err(ConsumeError::Store(e))
                }
            }
        };
        // Addresses are sent as SES can deliver them (ASCII local part, IDNA domain); one stored
        // under older rules that cannot be is left out.
        let to: Vec<String> = to.iter().filter_map(|a| Email::parse(a).ok()).map(|e| e.as_str().to_string()).collect();
        if to.is_empty() {
            return permanent("no recipient address can be delivered (SES needs an ASCII local part)".into()).await;
        }
        let content = match render(kind, &ctx, portal.settings.email_templates.get(kind.name())) {
            Ok(content) => content,
            Err(e) => return permanent(e.to_string()).await,
        };
        let mail = OutgoingMail { from: self.config.sender_for(&portal.settings), to, content };
        // SES failing is usually brief: back off here (well inside the claim's lease) before
        // failing the record, so an outage does not burn the event source mapping's retries.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(self.config.mail_retry_seconds);
        let mut delay = std::time::Duration::from_millis(250);
        let sent = loop {
            match self.mailer.send(&mail).await {
                Ok(id) => break Ok(id),
                Err(SendError::Permanent(m)) => return permanent(m).await,
                Err(SendError::Transient(e)) if std::time::Instant::now() + delay < deadline => {
                    tracing::warn!(event_id = %event.id, mail = kind.name(), error = %e, "send failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(std::time::Duration::from_secs(4));
                }
                Err(SendError::Transient(e)) => break Err(ConsumeError::Mail(e)),
            }
        };
        match sent {
            Ok(message_id) => {
                self.store.complete_mail(event.id, kind.name(), &message_id, self.clock.now()).await?;
                tracing::info!(event_id = %event.id, mail = kind.name(), "mail sent");
                Ok(Outcome::Mailed(kind))
            }
            Err(e) => {
                // Give the claim back so the retry can send; if this fails too the lease expires.
                let _ = self.store.release_mail(event.id, kind.name()).await;
                Err(e)
            }
        }
    }
}
