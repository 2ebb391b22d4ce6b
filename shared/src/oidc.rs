//! The OpenID Connect relying party over the `openidconnect` crate (issue 17): discovery and
//! the JWKS cached per issuer for the life of the sandbox, with a bounded refresh of the JWKS
//! on an unknown `kid`; the authorization URL with PKCE S256, `state` and `nonce`; the code
//! exchange and the ID token's validation (signature, `iss`, `aud`/`azp`, `exp`, `iat` skew,
//! `nonce`). Nothing of the protocol is written here by hand.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreIdTokenVerifier, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    reqwest, AdditionalClaims, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, IssuerUrl, JsonWebKeySet,
    Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, SignatureVerificationError, TokenResponse,
};
use serde::{Deserialize, Serialize};

use crate::domain::idp::{AuthRequest, Refusal};
use crate::domain::IdentityProvider;
use crate::error::{error_chain, AppError};
use crate::store::OidcClient;

/// Every claim of the ID token that is not a standard claim (groups, custom mappings).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OtherClaims(#[serde(default)] pub serde_json::Map<String, serde_json::Value>);

impl AdditionalClaims for OtherClaims {}

type IdToken = openidconnect::IdToken<OtherClaims, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;

/// A refetch of an issuer's JWKS on an unknown `kid` happens at most this often.
const JWKS_REFRESH_EVERY: Duration = Duration::from_secs(60);
/// `iat` may be at most this far in the future (clock skew).
const IAT_SKEW_SECONDS: i64 = 120;

struct Cached {
    metadata: CoreProviderMetadata,
    jwks_fetched: Instant,
}

/// The relying party: one HTTP client (rustls, no redirects followed) and the per-issuer cache.
pub struct Oidc {
    http: reqwest::Client,
    cache: Mutex<HashMap<String, Cached>>,
}

fn unavailable(what: &str, e: &dyn std::error::Error) -> AppError {
    tracing::warn!(error = %error_chain(e), "identity provider: {what} failed");
    AppError::Unavailable(format!("the identity provider could not be reached ({what})"))
}

impl Oidc {
    pub fn new() -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| format!("cannot build the OIDC HTTP client: {e}"))?;
        Ok(Self { http, cache: Mutex::new(HashMap::new()) })
    }

    /// The issuer's metadata (with its JWKS): discovered once per sandbox.
    async fn metadata(&self, issuer: &str) -> Result<CoreProviderMetadata, AppError> {
        if let Some(c) = self.cache.lock().expect("not poisoned").get(issuer) {
            return Ok(c.metadata.clone());
        }
        let url = IssuerUrl::new(issuer.to_string()).map_err(|e| AppError::internal(format!("bad issuer URL: {e}")))?;
        let metadata = CoreProviderMetadata::discover_async(url, &self.http).await.map_err(|e| unavailable("discovery", &e))?;
        self.cache
            .lock()
            .expect("not poisoned")
            .insert(issuer.to_string(), Cached { metadata: metadata.clone(), jwks_fetched: Instant::now() });
        Ok(metadata)
    }

    /// Refetches the JWKS of an issuer unless it was fetched within [`JWKS_REFRESH_EVERY`];
    /// `None` when the refresh is not due (the key is unknown for good).
    async fn refresh_jwks(&self, issuer: &str, metadata: &CoreProviderMetadata) -> Result<Option<CoreProviderMetadata>, AppError> {
        let due = self.cache.lock().expect("not poisoned").get(issuer).is_none_or(|c| c.jwks_fetched.elapsed() >= JWKS_REFRESH_EVERY);
        if !due {
            return Ok(None);
        }
        let jwks: JsonWebKeySet<CoreJsonWebKey> =
            JsonWebKeySet::fetch_async(metadata.jwks_uri(), &self.http).await.map_err(|e| unavailable("JWKS", &e))?;
        let metadata = metadata.clone().set_jwks(jwks);
        self.cache
            .lock()
            .expect("not poisoned")
            .insert(issuer.to_string(), Cached { metadata: metadata.clone(), jwks_fetched: Instant::now() });
        Ok(Some(metadata))
    }
}

impl OidcClient for Oidc {
    /// The authorization request: the URL to send the browser to, and the `state`, `nonce`
    /// and PKCE verifier to keep.
    async fn start(&self, idp: &IdentityProvider, redirect_uri: &str) -> Result<AuthRequest, AppError> {
        let metadata = self.metadata(&idp.issuer_url).await?;
        let redirect = RedirectUrl::new(redirect_uri.to_string()).map_err(|e| AppError::internal(format!("bad redirect URI: {e}")))?;
        let client = CoreClient::from_provider_metadata(metadata, ClientId::new(idp.client_id.clone()), None).set_redirect_uri(redirect);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut req = client.authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random);
        for scope in idp.scopes.iter().filter(|s| *s != "openid") {
            req = req.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = req.set_pkce_challenge(challenge).url();
        Ok(AuthRequest {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            verifier: verifier.secret().clone(),
        })
    }

    /// Exchanges the code and validates the ID token; its claims (standard and others) on
    /// success, a [`Refusal`] naming the failed check otherwise.
    async fn finish(
        &self,
        idp: &IdentityProvider,
        client_secret: String,
        redirect_uri: &str,
        code: &str,
        verifier: &str,
        nonce: &str,
    ) -> Result<Result<serde_json::Map<String, serde_json::Value>, Refusal>, AppError> {
        let metadata = self.metadata(&idp.issuer_url).await?;
        let redirect = RedirectUrl::new(redirect_uri.to_string()).map_err(|e| AppError::internal(format!("bad redirect URI: {e}")))?;
        let secret = ClientSecret::new(client_secret);
        let client = CoreClient::from_provider_metadata(metadata.clone(), ClientId::new(idp.client_id.clone()), Some(secret.clone()))
            .set_redirect_uri(redirect);
        let request = client.exchange_code(AuthorizationCode::new(code.to_string())).map_err(|e| AppError::internal(e.to_string()))?;
        let token = match request.set_pkce_verifier(PkceCodeVerifier::new(verifier.to_string())).request_async(&self.http).await {
            Ok(t) => t,
            Err(openidconnect::RequestTokenError::ServerResponse(r)) => {
                tracing::info!(error = %r.error(), "identity provider refused the code");
                return Ok(Err(Refusal::CodeRefused));
            }
            Err(e) => return Err(unavailable("token exchange", &e)),
        };
        let Some(raw) = token.id_token() else {
            return Ok(Err(Refusal::NoIdToken));
        };
        let id_token: IdToken = raw.to_string().parse().map_err(|_| AppError::internal("the ID token does not parse"))?;
        let nonce = Nonce::new(nonce.to_string());
        let mut metadata = metadata;
        loop {
            let verifier = CoreIdTokenVerifier::new_confidential_client(
                ClientId::new(idp.client_id.clone()),
                secret.clone(),
                metadata.issuer().clone(),
                metadata.jwks().clone(),
            )
            .set_issue_time_verifier_fn(|iat| {
                if iat > chrono::Utc::now() + chrono::Duration::seconds(IAT_SKEW_SECONDS) {
                    Err("issued in the future".into())
                } else {
                    Ok(())
                }
            });
            match id_token.claims(&verifier, &nonce) {
                Ok(claims) => {
                    let mut all = claims.additional_claims().0.clone();
                    all.insert("sub".into(), claims.subject().as_str().into());
                    if let Some(e) = claims.email() {
                        all.insert("email".into(), e.as_str().into());
                    }
                    if let Some(v) = claims.email_verified() {
                        all.insert("email_verified".into(), v.into());
                    }
                    if let Some(n) = claims.name().and_then(|n| n.get(None)) {
                        all.insert("name".into(), n.as_str().into());
                    }
                    if let Some(u) = claims.preferred_username() {
                        all.insert("preferred_username".into(), u.as_str().into());
                    }
                    return Ok(Ok(all));
                }
                Err(ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey)) => {
                    match self.refresh_jwks(&idp.issuer_url, &metadata).await? {
                        Some(fresh) if fresh.jwks().keys() != metadata.jwks().keys() => metadata = fresh,
                        _ => return Ok(Err(Refusal::UnknownKey)),
                    }
                }
                Err(e) => return Ok(Err(refusal_of(&e))),
            }
        }
    }
}

fn refusal_of(e: &ClaimsVerificationError) -> Refusal {
    match e {
        ClaimsVerificationError::Expired(_) => Refusal::Expired,
        ClaimsVerificationError::InvalidAudience(_) => Refusal::Audience,
        ClaimsVerificationError::InvalidIssuer(_) => Refusal::Issuer,
        ClaimsVerificationError::InvalidNonce(_) => Refusal::Nonce,
        ClaimsVerificationError::SignatureVerification(_) => Refusal::Signature,
        other => Refusal::Other(other.to_string()),
    }
}
