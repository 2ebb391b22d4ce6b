//! `gatehouse-ops`: operator tooling. Talks to whatever `AWS_ENDPOINT_URL` (or AWS) points at.
//!
//! ```text
//! gatehouse-ops create-table                       create the table (local stacks; SAM does it on AWS)
//! gatehouse-ops create-portal --name NAME [--settings JSON]
//! gatehouse-ops mint-admin-token --name NAME [--portal PORTAL_ID] [--expires-in DURATION]
//! gatehouse-ops list-admin-tokens                  id, name, scope, created, expiry, status
//! gatehouse-ops revoke-admin-token ID              the token answers 401 from now on
//! gatehouse-ops verify-sender ADDRESS_OR_DOMAIN    create an SES identity (local stacks)
//! gatehouse-ops create-token-secret [--name NAME]  create the link-token secret in Secrets Manager
//!                                                  (local stacks; SAM does it on AWS), print its ARN
//! gatehouse-ops bootstrap --env-file PATH [--api URL] [--mailbox URL]
//! ```
//! Admin tokens are printed once and stored only as SHA-256 hashes.

use std::collections::HashMap;
use std::process::ExitCode;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType, ScalarAttributeType,
    StreamSpecification, StreamViewType, TimeToLiveSpecification,
};
use gatehouse::clock::Clock;
use gatehouse::config::{self, Config};
use gatehouse::crypto::mint_token;
use gatehouse::domain::{Portal, PortalSettings, SettingsPatch};
use gatehouse::store::{AdminToken, AdminTokenStore, PortalStore};
use gatehouse::wiring::Wiring;
use uuid::Uuid;

type Error = Box<dyn std::error::Error + Send + Sync>;

fn usage() -> ExitCode {
    eprintln!(
        "usage: gatehouse-ops <create-table | create-portal --name N [--settings JSON] | mint-admin-token --name N [--portal ID] [--expires-in 90d|12h|30m|3600s] | backfill-audit-index | backfill-portal-index | list-admin-tokens | revoke-admin-token ID | verify-sender ADDRESS | create-token-secret [--name N] | bootstrap --env-file PATH [--api URL] [--mailbox URL]>"
    );
    ExitCode::from(2)
}

fn flags(args: &[String]) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if let Some(name) = a.strip_prefix("--") {
            out.insert(name.to_string(), it.next().cloned().unwrap_or_default());
        }
    }
    out
}

async fn create_table(client: &aws_sdk_dynamodb::Client, table: &str) -> Result<(), Error> {
    if client.describe_table().table_name(table).send().await.is_ok() {
        eprintln!("table {table} exists");
        return Ok(());
    }
    let s = |name: &str| AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build();
    let k = |name: &str, t: KeyType| KeySchemaElement::builder().attribute_name(name).key_type(t).build();
    let mut attrs = vec![s("pk")?, s("sk")?];
    let mut gsis = Vec::new();
    for i in 1..=5 {
        let (pk, sk) = (format!("gsi{i}pk"), format!("gsi{i}sk"));
        attrs.push(s(&pk)?);
        attrs.push(s(&sk)?);
        gsis.push(
            GlobalSecondaryIndex::builder()
                .index_name(format!("gsi{i}"))
                .key_schema(k(&pk, KeyType::Hash)?)
                .key_schema(k(&sk, KeyType::Range)?)
                .projection(Projection::builder().projection_type(ProjectionType::All).build())
                .build()?,
        );
    }
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(attrs))
        .key_schema(k("pk", KeyType::Hash)?)
        .key_schema(k("sk", KeyType::Range)?)
        .set_global_secondary_indexes(Some(gsis))
        .stream_specification(
            StreamSpecification::builder().stream_enabled(true).stream_view_type(StreamViewType::NewAndOldImages).build()?,
        )
        .send()
        .await?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(TimeToLiveSpecification::builder().attribute_name("ttl").enabled(true).build()?)
        .send()
        .await?;
    eprintln!("created table {table}");
    Ok(())
}

async fn create_portal(store: &impl PortalStore, name: &str, settings: Option<&str>) -> Result<Portal, Error> {
    let settings = match settings {
        Some(json) => {
            let patch: SettingsPatch = serde_json::from_str(json)?;
            patch
                .apply(PortalSettings::default(), "", gatehouse::mail::validate_override)
                .map_err(|e| format!("invalid settings: {e:?}"))?
        }
        None => PortalSettings::default(),
    };
    let now = Clock::default().now();
    let portal = Portal { id: Uuid::new_v4(), name: name.to_string(), settings, created_at: now, updated_at: now, version: 1 };
    store.create_portal(&portal).await?;
    Ok(portal)
}

/// A duration such as `90d`, `12h`, `30m`, `45s` or plain seconds (at least one second, at most
/// ten years).
fn parse_duration(raw: &str) -> Result<chrono::Duration, String> {
    let raw = raw.trim();
    let (digits, unit) = match raw.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => raw.split_at(i),
        None => (raw, "s"),
    };
    let n: i64 = digits.parse().map_err(|_| format!("--expires-in {raw:?}: give a number with d, h, m or s, e.g. 90d"))?;
    let seconds = match unit {
        "d" => n.checked_mul(86_400),
        "h" => n.checked_mul(3_600),
        "m" => n.checked_mul(60),
        "s" => Some(n),
        _ => None,
    }
    .ok_or_else(|| format!("--expires-in {raw:?}: the unit must be d, h, m or s"))?;
    if !(1..=10 * 365 * 86_400).contains(&seconds) {
        return Err(format!("--expires-in {raw:?}: must be between 1 second and 10 years"));
    }
    Ok(chrono::Duration::seconds(seconds))
}

async fn mint_admin_token(
    store: &impl AdminTokenStore,
    name: &str,
    portal: Option<&str>,
    expires_in: Option<&str>,
) -> Result<String, Error> {
    let scope = match portal {
        Some(p) => p.parse::<Uuid>()?.to_string(),
        None => "*".to_string(),
    };
    let now = Clock::default().now();
    let expires_at = expires_in.map(parse_duration).transpose()?.map(|d| now + d);
    let minted = mint_token("gha_");
    let token = AdminToken {
        id: Uuid::new_v4().simple().to_string()[..12].to_string(),
        name: name.to_string(),
        scope,
        token_hash: minted.hash,
        created_at: now,
        expires_at,
    };
    store.put_admin_token(&token).await?;
    eprintln!(
        "minted admin token {} ({}, scope {}, {})",
        token.id,
        token.name,
        token.scope,
        expires_at.map_or("never expires".to_string(), |t| format!("expires {}", t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)))
    );
    Ok(minted.token)
}

/// One line per token: id, name, scope, created, expiry, status (never the token or its hash).
fn token_lines(tokens: &[AdminToken], now: gatehouse::domain::Timestamp) -> Vec<String> {
    let secs = |t: gatehouse::domain::Timestamp| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut out = vec!["id\tname\tscope\tcreated_at\texpires_at\tstatus".to_string()];
    for t in tokens {
        let status = if t.expired(now) { "expired" } else { "active" };
        out.push(format!(
            "{}\t{}\t{}\t{}\t{}\t{status}",
            t.id,
            t.name,
            t.scope,
            secs(t.created_at),
            t.expires_at.map_or("never".into(), secs)
        ));
    }
    out
}

async fn verify_sender(sdk: &aws_config::SdkConfig, identity: &str) -> Result<(), Error> {
    let ses = aws_sdk_sesv2::Client::new(sdk);
    match ses.create_email_identity().email_identity(identity).send().await {
        Ok(_) => Ok(()),
        Err(e) if format!("{e:?}").contains("AlreadyExists") => Ok(()),
        Err(e) => Err(Box::new(e)),
    }
}

/// Creates the link-token secret (a random 64-character value, never printed) unless it exists,
/// and returns its ARN: the functions that need it read it at cold start.
async fn create_token_secret(sdk: &aws_config::SdkConfig, name: &str) -> Result<String, Error> {
    let sm = aws_sdk_secretsmanager::Client::new(sdk);
    let value = format!("{}{}", gatehouse::crypto::nonce(), gatehouse::crypto::nonce());
    match sm.create_secret().name(name).description("Gatehouse HMAC key for link tokens").secret_string(value).send().await {
        Ok(out) => Ok(out.arn.unwrap_or_default()),
        Err(e) if format!("{e:?}").contains("ResourceExists") => {
            Ok(sm.describe_secret().secret_id(name).send().await?.arn.unwrap_or_default())
        }
        Err(e) => Err(Box::new(e)),
    }
}

/// A symmetric KMS key for sealing identity providers' client secrets (the template's
/// `SsoKey`); the local stack's is created in moto at every start.
async fn create_sso_key(sdk: &aws_config::SdkConfig) -> Result<String, Error> {
    let kms = aws_sdk_kms::Client::new(sdk);
    let out = kms.create_key().description("Gatehouse (local) - seals identity providers' client secrets").send().await?;
    Ok(out.key_metadata.map(|m| m.arn.unwrap_or(m.key_id)).unwrap_or_default())
}

/// The anti-automation limits of a local stack (see `bootstrap`).
const LOCAL_RATE_LIMITS: &str = "GATEHOUSE_REGISTER_LIMIT_PER_CLIENT=1000000\nGATEHOUSE_REGISTER_LIMIT_PER_PORTAL=1000000\nGATEHOUSE_LOGIN_LIMIT_PER_CLIENT=1000000\nGATEHOUSE_LOGIN_LIMIT_PER_PORTAL=1000000\n";

async fn run(args: Vec<String>) -> Result<Option<ExitCode>, Error> {
    let Some(cmd) = args.first() else {
        return Ok(Some(usage()));
    };
    let f = flags(&args[1..]);
    // An operator's machine: aws-config's default chains (profiles, SSO), not the functions'
    // environment-only configuration.
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Ok(name) = aws_config::AppName::new("gatehouse-ops") {
        loader = loader.app_name(name);
    }
    let wiring = Wiring::with_sdk(loader.load().await);
    let (config, sdk, store) = (&wiring.config, wiring.sdk(), wiring.dynamo());
    match cmd.as_str() {
        "create-table" => create_table(store.client(), &config.table).await?,
        "create-portal" => {
            let Some(name) = f.get("name") else {
                return Ok(Some(usage()));
            };
            let portal = create_portal(&store, name, f.get("settings").map(String::as_str)).await?;
            println!("{}", portal.id);
        }
        "mint-admin-token" => {
            let Some(name) = f.get("name") else {
                return Ok(Some(usage()));
            };
            let token =
                mint_admin_token(&store, name, f.get("portal").map(String::as_str), f.get("expires-in").map(String::as_str)).await?;
            println!("{token}");
        }
        "backfill-audit-index" => {
            let n = store.backfill_event_index().await?;
            println!("{n} events given their audit trail index keys");
        }
        "backfill-portal-index" => {
            let n = store.backfill_portal_index().await?;
            println!("{n} portals given their portal index entry");
        }
        "list-admin-tokens" => {
            for line in token_lines(&store.list_admin_tokens().await?, Clock::default().now()) {
                println!("{line}");
            }
        }
        "revoke-admin-token" => {
            let Some(id) = args.get(1).filter(|a| !a.starts_with("--")) else {
                return Ok(Some(usage()));
            };
            if !store.delete_admin_token(id).await? {
                return Err(format!("no admin token with id {id} (list them with list-admin-tokens)").into());
            }
            eprintln!("revoked admin token {id}");
        }
        "verify-sender" => {
            let Some(identity) = args.get(1) else {
                return Ok(Some(usage()));
            };
            verify_sender(sdk, identity).await?;
        }
        "create-token-secret" => {
            let name = f.get("name").map(String::as_str).unwrap_or("gatehouse/token-secret");
            println!("{}", create_token_secret(sdk, name).await?);
        }
        "bootstrap" => {
            let Some(path) = f.get("env-file") else {
                return Ok(Some(usage()));
            };
            create_table(store.client(), &config.table).await?;
            // The local stack lets portals send from the sender's domain and its `mail.`
            // subdomain (unless GATEHOUSE_ALLOWED_SENDER_DOMAINS says otherwise), each a
            // verified SES domain identity.
            let sender_domains = match std::env::var("GATEHOUSE_ALLOWED_SENDER_DOMAINS").ok().filter(|v| !v.trim().is_empty()) {
                Some(list) => list,
                None => {
                    let domain = config.sender.rsplit_once('@').map(|(_, d)| d.to_string()).unwrap_or_default();
                    format!("{domain},mail.{domain}")
                }
            };
            let checked =
                Config { allowed_sender_domains: config::parse_sender_domains(Some(&sender_domains), &config.sender)?, ..config.clone() };
            checked.check_sender()?;
            verify_sender(sdk, &config.sender).await?;
            for domain in &checked.allowed_sender_domains {
                verify_sender(sdk, domain.as_str()).await?;
            }
            let secret_arn = create_token_secret(sdk, "gatehouse/token-secret").await?;
            let sso_key = create_sso_key(sdk).await?;
            let portal = create_portal(&store, "Demo portal", Some(r#"{"admin_emails": ["admin@gatehouse.local"]}"#)).await?;
            let token = mint_admin_token(&store, "local-admin", None, None).await?;
            let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
            let api = f.get("api").cloned().unwrap_or_else(|| "http://127.0.0.1:9000/api".into());
            let mailbox = f.get("mailbox").cloned().unwrap_or_else(|| "http://127.0.0.1:9001/mailbox".into());
            let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into());
            let env = format!(
                "GATEHOUSE_API={api}\nGATEHOUSE_ADMIN_TOKEN={token}\nGATEHOUSE_PORTAL_ID={}\nAWS_ENDPOINT_URL={endpoint}\nGATEHOUSE_MAILBOX={mailbox}\nGATEHOUSE_TABLE={}\nGATEHOUSE_SENDER={}\nAWS_REGION={region}\nAWS_DEFAULT_REGION={region}\nAWS_ACCESS_KEY_ID=test\nAWS_SECRET_ACCESS_KEY=test\nGATEHOUSE_TOKEN_SECRET_ARN={secret_arn}\nGATEHOUSE_ALLOWED_SENDER_DOMAINS={sender_domains}\nGATEHOUSE_PAGES_URL=http://127.0.0.1:9000\nGATEHOUSE_ALLOW_CLOCK_OVERRIDE=1\nGATEHOUSE_ROUTE_PRODUCTS=\"GET:/example/orders=orders,GET:/example/free=*\"\n",
                portal.id, config.table, config.sender
            );
            // The integration suite registers and signs in hundreds of developers from one
            // client: the deployment-wide anti-automation limits are lifted locally; tests that
            // prove the limits lower them on their own portal (settings.rate_limits).
            let env = format!("{env}{LOCAL_RATE_LIMITS}");
            // Single sign-on: the sealing key, and issuers on loopback over http (the local
            // OpenID Provider) allowed.
            let env = format!("{env}GATEHOUSE_KMS_KEY_ID={sso_key}\nGATEHOUSE_SSO_ALLOW_LOOPBACK_HTTP=1\n");
            if let Some(dir) = std::path::Path::new(path).parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(path, env)?;
            eprintln!("wrote {path} (demo portal {})", portal.id);
        }
        _ => return Ok(Some(usage())),
    }
    Ok(None)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(args).await {
        Ok(Some(code)) => code,
        Ok(None) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gatehouse-ops: {}", gatehouse::error::error_chain(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_durations_take_days_hours_minutes_or_seconds() {
        assert_eq!(parse_duration("90d").unwrap(), chrono::Duration::days(90));
        assert_eq!(parse_duration("12h").unwrap(), chrono::Duration::hours(12));
        assert_eq!(parse_duration("30m").unwrap(), chrono::Duration::minutes(30));
        assert_eq!(parse_duration("3600").unwrap(), chrono::Duration::seconds(3600));
        for bad in ["", "0", "1w", "-5s", "h", "99999999999999999999d", "11000d"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_token_listing_shows_expiry_and_status_but_never_the_hash() {
        let now = Clock::default().now();
        let t = |id: &str, expires_at| AdminToken {
            id: id.into(),
            name: "ci".into(),
            scope: "*".into(),
            token_hash: "deadbeef".repeat(8),
            created_at: now,
            expires_at,
        };
        let lines = token_lines(
            &[t("a", None), t("b", Some(now - chrono::Duration::seconds(1))), t("c", Some(now + chrono::Duration::days(1)))],
            now,
        );
        assert_eq!(lines.len(), 4);
        assert!(lines[1].ends_with("never\tactive") && lines[2].ends_with("\texpired") && lines[3].ends_with("\tactive"), "{lines:?}");
        assert!(!lines.concat().contains("deadbeef"));
    }
}
