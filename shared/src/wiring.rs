//! Built once per Lambda sandbox in `main`, the same way by every binary: [`Wiring::load`]
//! reads the configuration (with [`crate::config`], the only reader of the environment), the
//! SDK configuration and the one clock; then each binary builds only the clients it needs
//! ([`Wiring::dynamo`], [`Wiring::ses`], [`Wiring::token_secret`], or an HTTP function's
//! [`Ctx`]). The link-token secret comes from Secrets Manager, only in the functions that
//! issue or mail links.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use aws_sdk_dynamodb::config::BehaviorVersion;
use aws_smithy_async::rt::sleep::TokioSleep;
use aws_smithy_async::time::SystemTimeSource;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use aws_types::app_name::AppName;
use aws_types::region::Region;
pub use aws_types::SdkConfig;
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
/// connection cannot eat the whole Lambda timeout. `app` (the function's name) goes into every
/// call's user agent as `app/gatehouse-<app>`: CloudTrail shows which function made a call, and
/// so does the local fault proxy, which checks each function's calls against its IAM policy in
/// the template.
///
/// Built from the environment alone, as Lambda sets it (no aws-config: its credential, region
/// and profile chains would put STS, SSO and IMDS clients into every zip): region from
/// `AWS_REGION`, credentials from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` /
/// `AWS_SESSION_TOKEN` (the execution role's, fixed for the sandbox's life), the endpoint from
/// `AWS_ENDPOINT_URL` when set (moto, LocalStack; plain http works), HTTP/1.1 on rustls with the
/// ring provider ([`crate::aws_http`]).
pub async fn sdk_config(app: &str) -> SdkConfig {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let http = crate::aws_http::Http1Client::shared();
    let mut sdk = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION")).map(Region::new))
        .http_client(http)
        .sleep_impl(TokioSleep::new())
        .time_source(SystemTimeSource::new())
        .retry_config(RetryConfig::standard().with_max_attempts(3).with_initial_backoff(Duration::from_millis(50)))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .operation_attempt_timeout(Duration::from_secs(4))
                .operation_timeout(Duration::from_secs(9))
                .build(),
        );
    if let (Some(key), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        let credentials = Credentials::new(key, secret, env("AWS_SESSION_TOKEN"), None, "Environment");
        sdk = sdk.credentials_provider(SharedCredentialsProvider::new(credentials));
    } else {
        tracing::warn!("AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are not set: AWS calls will fail");
    }
    if let Some(url) = env("AWS_ENDPOINT_URL") {
        sdk = sdk.endpoint_url(url);
    }
    match AppName::new(format!("gatehouse-{app}")) {
        Ok(name) => sdk = sdk.app_name(name),
        Err(_) => tracing::warn!(app, "not a valid SDK app name"),
    }
    sdk.build()
}

/// Reads the link-token secret named by `GATEHOUSE_TOKEN_SECRET_ARN` (`id`) from Secrets
/// Manager (the `SecretString`, at least 32 bytes). Errors never carry the value.
pub async fn load_token_secret(sdk: &SdkConfig, id: Option<&str>) -> Result<TokenSecret, String> {
    let id =
        id.filter(|v| !v.trim().is_empty()).ok_or("GATEHOUSE_TOKEN_SECRET_ARN is not set: this function needs the link-token secret")?;
    let client = aws_sdk_secretsmanager::Client::new(sdk);
    let out = client
        .get_secret_value()
        .secret_id(id)
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
    id: Option<String>,
    first: Mutex<Option<JoinHandle<Result<TokenSecret, String>>>>,
    secret: OnceCell<TokenSecret>,
}

impl SecretLoader {
    /// Starts fetching the secret named `id` (`GATEHOUSE_TOKEN_SECRET_ARN`).
    pub fn start(sdk: &SdkConfig, id: Option<String>) -> Self {
        let fetch = tokio::spawn({
            let (sdk, id) = (sdk.clone(), id.clone());
            async move { load_token_secret(&sdk, id.as_deref()).await }
        });
        Self { sdk: sdk.clone(), id, first: Mutex::new(Some(fetch)), secret: OnceCell::new() }
    }

    pub async fn get(&self) -> Result<&TokenSecret, AppError> {
        self.secret
            .get_or_try_init(|| async {
                let first = self.first.lock().expect("not poisoned").take();
                let result = match first {
                    Some(fetch) => fetch.await.unwrap_or_else(|e| Err(format!("the secret fetch failed: {e}"))),
                    None => load_token_secret(&self.sdk, self.id.as_deref()).await,
                };
                result.map_err(|e| {
                    tracing::error!(error = %e, "token secret unavailable");
                    AppError::Unavailable(e)
                })
            })
            .await
    }
}

/// What every binary starts from: the configuration, the SDK configuration and the one clock.
/// Clients are built from it on demand, so a binary builds only those it uses.
pub struct Wiring {
    pub config: Config,
    pub clock: Clock,
    sdk: SdkConfig,
}

impl Wiring {
    /// Reads the environment (`app` is the function's name, for the user agent).
    pub async fn load(app: &str) -> Self {
        Self::with_sdk(sdk_config(app).await)
    }

    /// Reads the configuration, with an SDK configuration built elsewhere (the ops tool's, from
    /// aws-config's default chains).
    pub fn with_sdk(sdk: SdkConfig) -> Self {
        let config = Config::from_env();
        Self { clock: Clock::fixed_offset(config.clock_offset_seconds), config, sdk }
    }

    /// The SDK configuration, for a client the wiring does not build itself (the ops tool's).
    pub fn sdk(&self) -> &SdkConfig {
        &self.sdk
    }

    pub fn dynamo(&self) -> Dynamo {
        Dynamo::new(aws_sdk_dynamodb::Client::new(&self.sdk), self.config.table.clone())
    }

    /// The webhook delivery queue (`GATEHOUSE_WEBHOOK_QUEUE_URL`, required where it is built).
    pub fn delivery_queue(&self) -> Result<crate::sqs::Sqs, String> {
        let url = self.config.webhook_queue_url.clone().ok_or("GATEHOUSE_WEBHOOK_QUEUE_URL is not set")?;
        Ok(crate::sqs::Sqs::new(aws_sdk_sqs::Client::new(&self.sdk), url))
    }

    pub fn ses(&self) -> Ses {
        Ses::with_configuration_set(aws_sdk_sesv2::Client::new(&self.sdk), self.config.ses_configuration_set.clone())
    }

    /// The secret sealer (KMS, the key of `GATEHOUSE_KMS_KEY_ID`).
    pub fn kms(&self) -> crate::kms::Kms {
        crate::kms::Kms::new(aws_sdk_kms::Client::new(&self.sdk), self.config.kms_key_id.clone())
    }

    /// Starts reading the link-token secret (the fetch runs beside the rest of the start-up).
    pub fn token_secret(&self) -> SecretLoader {
        SecretLoader::start(&self.sdk, self.config.token_secret_arn.clone())
    }

    /// An HTTP function's context, for a function that never touches link tokens.
    pub fn ctx(&self) -> Ctx {
        Ctx { store: self.dynamo(), config: self.config.clone(), clock: self.clock, secret: None, with_secret: Default::default() }
    }

    /// An HTTP function's context, for a function that issues or checks link tokens: also
    /// starts reading the secret.
    pub fn ctx_with_token_secret(&self) -> Ctx {
        Ctx { secret: Some(Arc::new(self.token_secret())), ..self.ctx() }
    }
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

    /// The caller's address (see [`crate::http::client_ip`]).
    pub fn client_ip(&self, req: &lambda_http::Request) -> String {
        crate::http::client_ip(req, self.config.origin_verify.as_ref().map(|v| v.0.as_str()))
    }

    /// The configuration with the token secret in it (waits for the cold-start fetch once).
    pub async fn config_with_secret(&self) -> Result<&Config, AppError> {
        let loader = self.secret.as_ref().ok_or_else(|| AppError::internal("this function does not load the token secret"))?;
        self.with_secret.get_or_try_init(|| async { Ok(Config { token_secret: loader.get().await?.clone(), ..self.config.clone() }) }).await
    }
}
