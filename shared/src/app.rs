//! Built once per Lambda sandbox in `main`: configuration, SDK clients, clock.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

use crate::domain::Timestamp;
use crate::dynamo::Dynamo;
use crate::ses::Ses;

#[derive(Debug, Clone)]
pub struct Config {
    /// `GATEHOUSE_TABLE` [gatehouse]
    pub table: String,
    /// `GATEHOUSE_SENDER`: From address when a portal sets no `email_from`.
    pub sender: String,
    /// `GATEHOUSE_PORTAL_URL`: link base when a portal sets no `portal_url`.
    pub portal_url: Option<String>,
    /// `GATEHOUSE_TOKEN_SECRET`: the key link tokens are derived from (at least 32 bytes).
    pub token_secret: Vec<u8>,
    /// `GATEHOUSE_SESSION_TTL_SECONDS` [43200]: how long a developer session lasts.
    pub session_ttl_seconds: i64,
    /// `GATEHOUSE_ALLOW_CLOCK_OVERRIDE=1` (local stacks only): honour the
    /// `x-gatehouse-clock-offset` request header so tests can move time without sleeping.
    pub allow_clock_override: bool,
    /// `GATEHOUSE_MAIL_RETRY_SECONDS` [12]: how long the consumer retries a failing send before
    /// failing the record (must stay below the mail claim's lease).
    pub mail_retry_seconds: u64,
    /// Anti-automation limits of the public routes (`GATEHOUSE_*_LIMIT_PER_*`).
    pub rate_limits: crate::throttle::RateLimits,
}

impl Config {
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        Self {
            table: var("GATEHOUSE_TABLE").unwrap_or_else(|| "gatehouse".into()),
            sender: var("GATEHOUSE_SENDER").unwrap_or_else(|| "no-reply@gatehouse.local".into()),
            portal_url: var("GATEHOUSE_PORTAL_URL"),
            token_secret: var("GATEHOUSE_TOKEN_SECRET").map(String::into_bytes).unwrap_or_else(|| {
                tracing::warn!("GATEHOUSE_TOKEN_SECRET is not set: link tokens use a random per-process key");
                crate::crypto::nonce().into_bytes()
            }),
            session_ttl_seconds: var("GATEHOUSE_SESSION_TTL_SECONDS").and_then(|v| v.parse().ok()).unwrap_or(43_200),
            allow_clock_override: var("GATEHOUSE_ALLOW_CLOCK_OVERRIDE").as_deref() == Some("1"),
            mail_retry_seconds: var("GATEHOUSE_MAIL_RETRY_SECONDS").and_then(|v| v.parse().ok()).unwrap_or(12).min(15),
            rate_limits: crate::throttle::RateLimits::from_env(),
        }
    }
}

/// The time source. Production uses the system clock; `GATEHOUSE_CLOCK_OFFSET_SECONDS`
/// shifts it (local stack only) so expiry can be tested without sleeping.
#[derive(Debug, Clone, Copy, Default)]
pub struct Clock {
    offset_seconds: i64,
}

impl Clock {
    pub fn from_env() -> Self {
        Self { offset_seconds: std::env::var("GATEHOUSE_CLOCK_OFFSET_SECONDS").ok().and_then(|v| v.parse().ok()).unwrap_or(0) }
    }
    pub fn fixed_offset(offset_seconds: i64) -> Self {
        Self { offset_seconds }
    }
    pub fn now(&self) -> Timestamp {
        chrono::Utc::now() + chrono::Duration::seconds(self.offset_seconds)
    }
}

/// SDK configuration with deliberate retries and timeouts: standard mode (exponential backoff
/// with jitter, throttling and 5xx retried), 3 attempts, each attempt bounded so a stuck
/// connection cannot eat the whole Lambda timeout. Endpoints come from `AWS_ENDPOINT_URL`
/// (or the per-service variables), so the emulator, LocalStack or AWS all work unchanged.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(3).with_initial_backoff(Duration::from_millis(50)))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .operation_attempt_timeout(Duration::from_secs(4))
                .operation_timeout(Duration::from_secs(9))
                .build(),
        )
        .load()
        .await
}

pub fn dynamo(sdk: &SdkConfig, config: &Config) -> Dynamo {
    Dynamo::new(aws_sdk_dynamodb::Client::new(sdk), config.table.clone())
}

pub fn ses(sdk: &SdkConfig) -> Ses {
    Ses::new(aws_sdk_sesv2::Client::new(sdk))
}

/// Everything a handler needs, built once.
#[derive(Clone)]
pub struct Ctx {
    pub store: Dynamo,
    pub config: Config,
    pub clock: Clock,
}

impl Ctx {
    /// Now, as this request sees it (the clock override header counts only on local stacks).
    pub fn now(&self, req: &lambda_http::Request) -> Timestamp {
        if self.config.allow_clock_override {
            if let Some(offset) =
                req.headers().get("x-gatehouse-clock-offset").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<i64>().ok())
            {
                return self.clock.now() + chrono::Duration::seconds(offset);
            }
        }
        self.clock.now()
    }

    pub async fn from_env() -> Self {
        let config = Config::from_env();
        let sdk = sdk_config().await;
        Self { store: dynamo(&sdk, &config), config, clock: Clock::from_env() }
    }
}
