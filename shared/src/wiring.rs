//! Built once per Lambda sandbox in `main`: SDK configuration, clients, clock, and (only in
//! the functions that issue or mail links) the link-token secret from Secrets Manager.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{AppName, BehaviorVersion, SdkConfig};
use tokio::sync::OnceCell;
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::config::{Config, TokenSecret};
use crate::domain::Timestamp;
use crate::dynamo::Dynamo;
use crate::error::AppError;
use crate::ses::Ses;

/// SDK configuration with deliberate retries and timeouts: standard mode (exponential backoff
/// with jitter, throttling and 5xx retried), 3 attempts, each attempt bounded so a stuck
/// connection cannot eat the whole Lambda timeout. Endpoints come from `AWS_ENDPOINT_URL`
/// (or the per-service variables), so the emulator, LocalStack or AWS all work unchanged.
/// `app` (the function's name) goes into every call's user agent as `app/gatehouse-<app>`:
/// CloudTrail shows which function made a call, and so does the local fault proxy, which
/// checks each function's calls against its IAM policy in the template.
pub async fn sdk_config(app: &str) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(3).with_initial_backoff(Duration::from_millis(50)))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .operation_attempt_timeout(Duration::from_secs(4))
                .operation_timeout(Duration::from_secs(9))
                .build(),
        );
    match AppName::new(format!("gatehouse-{app}")) {
        Ok(name) => loader = loader.app_name(name),
        Err(_) => tracing::warn!(app, "not a valid SDK app name"),
    }
    loader.load().await
}

/// Reads the link-token secret named by `GATEHOUSE_TOKEN_SECRET_ARN` from Secrets Manager
/// (the `SecretString`, at least 32 bytes). Errors never carry the value.
pub async fn load_token_secret(sdk: &SdkConfig) -> Result<TokenSecret, String> {
    let id = std::env::var("GATEHOUSE_TOKEN_SECRET_ARN")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or("GATEHOUSE_TOKEN_SECRET_ARN is not set: this function needs the link-token secret")?;
    let client = aws_sdk_secretsmanager::Client::new(sdk);
    let out = client
        .get_secret_value()
        .secret_id(&id)
        .send()
        .await
        .map_err(|e| format!("cannot read the token secret {id}: {}", crate::error::error_chain(&e)))?;
    TokenSecret::new(out.secret_string.ok_or_else(|| format!("the token secret {id} has no SecretString"))?.into_bytes())
}

/// The token secret, fetched once per sandbox: the fetch starts at cold start, beside the rest
/// of the start-up (the runtime's first poll), and the first request that needs it waits for
/// it. A failed fetch is tried again by the next request instead of failing the sandbox.
pub struct SecretLoader {
    sdk: SdkConfig,
    first: Mutex<Option<JoinHandle<Result<TokenSecret, String>>>>,
    secret: OnceCell<TokenSecret>,
}

impl SecretLoader {
    pub fn start(sdk: &SdkConfig) -> Self {
        let fetch = tokio::spawn({
            let sdk = sdk.clone();
            async move { load_token_secret(&sdk).await }
        });
        Self { sdk: sdk.clone(), first: Mutex::new(Some(fetch)), secret: OnceCell::new() }
    }

    pub async fn get(&self) -> Result<&TokenSecret, AppError> {
        self.secret
            .get_or_try_init(|| async {
                let first = self.first.lock().expect("not poisoned").take();
                let result = match first {
                    Some(fetch) => fetch.await.unwrap_or_else(|e| Err(format!("the secret fetch failed: {e}"))),
                    None => load_token_secret(&self.sdk).await,
                };
                result.map_err(|e| {
                    tracing::error!(error = %e, "token secret unavailable");
                    AppError::Unavailable(e)
                })
            })
            .await
    }
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
    secret: Option<Arc<SecretLoader>>,
    with_secret: Arc<OnceCell<Config>>,
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

    /// For a function that never touches link tokens (`app` is its name, for the user agent).
    pub async fn from_env(app: &str) -> Self {
        let config = Config::from_env();
        let sdk = sdk_config(app).await;
        Self { store: dynamo(&sdk, &config), config, clock: Clock::from_env(), secret: None, with_secret: Default::default() }
    }

    /// For a function that issues or checks link tokens: also starts reading the secret.
    pub async fn with_token_secret(app: &str) -> Self {
        let config = Config::from_env();
        let sdk = sdk_config(app).await;
        let secret = Some(Arc::new(SecretLoader::start(&sdk)));
        Self { store: dynamo(&sdk, &config), config, clock: Clock::from_env(), secret, with_secret: Default::default() }
    }

    /// The configuration with the token secret in it (waits for the cold-start fetch once).
    pub async fn config_with_secret(&self) -> Result<&Config, AppError> {
        let loader = self.secret.as_ref().ok_or_else(|| AppError::internal("this function does not load the token secret"))?;
        self.with_secret.get_or_try_init(|| async { Ok(Config { token_secret: loader.get().await?.clone(), ..self.config.clone() }) }).await
    }
}
