//! The HTTP client of every AWS call the functions make: hyper-util's pooled client, speaking
//! HTTP/1.1 only, over rustls with the ring provider and the system's root certificates
//! (plain `http://` too, for moto), plugged into the SDK as its [`HttpClient`].
//!
//! Why not `aws-smithy-http-client`: it turns on hyper's, hyper-util's and hyper-rustls'
//! `http2` features unconditionally and has its own HTTP/2 pool, so the `h2` crate (about
//! 260 KB of code) was in every zip, while DynamoDB, SES, SQS, KMS and Secrets Manager answer
//! HTTP/1.1 (issue 18: zip size). What this keeps of it: the connect timeout of the SDK's
//! settings, a read timeout when one is set, TCP_NODELAY, a 90-second idle pool, and its
//! classification of errors (timeouts, I/O and closed connections are retryable; user errors
//! are not), which the SDK's retry strategy reads. What it leaves: HTTP proxies (Lambda has
//! none), connection poisoning (a connection that failed is dropped by hyper anyway) and
//! HTTP/2.

use std::error::Error as StdError;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_smithy_async::future::timeout::TimedOutError;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::shared::IntoShared;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::ErrorKind;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector as TcpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

type Https = HttpsConnector<TcpConnector>;
/// The connect and read timeouts a connector was built for.
type Timeouts = (Option<Duration>, Option<Duration>);

/// Where the TLS roots come from: the system's store (Lambda's, an operator's), or given (tests).
#[derive(Clone)]
enum Roots {
    Native,
    Given(Arc<rustls::RootCertStore>),
}

/// The SDK's HTTP client: builds one pooled [`Connector`] per distinct timeout settings (the
/// SDK asks per operation; every Gatehouse client has the same settings, so there is one).
pub struct Http1Client {
    roots: Roots,
    connectors: Mutex<Vec<(Timeouts, SharedHttpConnector)>>,
}

impl std::fmt::Debug for Http1Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http1Client").finish_non_exhaustive()
    }
}

impl Http1Client {
    /// HTTPS with the system's root certificates (and plain HTTP).
    pub fn shared() -> SharedHttpClient {
        Self { roots: Roots::Native, connectors: Mutex::new(Vec::new()) }.into_shared()
    }

    /// HTTPS trusting only `roots` (tests with their own certificate authority).
    pub fn shared_with_roots(roots: rustls::RootCertStore) -> SharedHttpClient {
        Self { roots: Roots::Given(Arc::new(roots)), connectors: Mutex::new(Vec::new()) }.into_shared()
    }

    fn build(&self, settings: &HttpConnectorSettings) -> Result<Connector, std::io::Error> {
        let mut tcp = TcpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(settings.connect_timeout());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = hyper_rustls::HttpsConnectorBuilder::new();
        let tls = match &self.roots {
            Roots::Native => tls.with_provider_and_native_roots(provider)?,
            Roots::Given(roots) => tls.with_tls_config(
                rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .map_err(std::io::Error::other)?
                    .with_root_certificates(roots.clone())
                    .with_no_client_auth(),
            ),
        };
        let https = tls.https_or_http().enable_http1().wrap_connector(tcp);
        let client =
            Client::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(90)).pool_timer(TokioTimer::new()).build(https);
        Ok(Connector { client, read_timeout: settings.read_timeout() })
    }
}

impl HttpClient for Http1Client {
    fn http_connector(&self, settings: &HttpConnectorSettings, _components: &RuntimeComponents) -> SharedHttpConnector {
        let key: Timeouts = (settings.connect_timeout(), settings.read_timeout());
        let mut connectors = self.connectors.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((_, connector)) = connectors.iter().find(|(timeouts, _)| *timeouts == key) {
            return connector.clone();
        }
        let connector: SharedHttpConnector = match self.build(settings) {
            Ok(connector) => connector.into_shared(),
            Err(e) => Failed(Arc::new(format!("cannot build the HTTPS client: {e}"))).into_shared(),
        };
        connectors.push((key, connector.clone()));
        connector
    }
}

#[derive(Clone, Debug)]
struct Connector {
    client: Client<Https, SdkBody>,
    read_timeout: Option<Duration>,
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let request = match request.try_into_http1x() {
            Ok(request) => request,
            Err(e) => return HttpConnectorFuture::ready(Err(ConnectorError::user(e.into()))),
        };
        let sent = self.client.request(request);
        let read_timeout = self.read_timeout;
        HttpConnectorFuture::new(async move {
            let answer = match read_timeout {
                Some(limit) => match tokio::time::timeout(limit, sent).await {
                    Ok(answer) => answer,
                    Err(_) => return Err(ConnectorError::timeout(Box::new(TimedOutError))),
                },
                None => sent.await,
            };
            match answer {
                Ok(response) => {
                    HttpResponse::try_from(response.map(SdkBody::from_body_1_x)).map_err(|e| ConnectorError::other(e.into(), None))
                }
                Err(e) => Err(classify(e.into())),
            }
        })
    }
}

/// A connector that could not be built (no readable root store): every call fails, the
/// same way, instead of the sandbox.
#[derive(Clone, Debug)]
struct Failed(Arc<String>);

impl HttpConnector for Failed {
    fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
        HttpConnectorFuture::ready(Err(ConnectorError::other(self.0.to_string().into(), None)))
    }
}

/// aws-smithy-http-client's classification of hyper's errors, for the SDK's retries.
fn classify(err: BoxError) -> ConnectorError {
    if find::<TimedOutError>(err.as_ref()).is_some() {
        return ConnectorError::timeout(err);
    }
    if let Some(hyper_err) = find::<hyper::Error>(err.as_ref()) {
        if hyper_err.is_timeout() {
            return ConnectorError::timeout(err);
        }
        if hyper_err.is_user() {
            return ConnectorError::user(err);
        }
        if hyper_err.is_closed() || hyper_err.is_canceled() || find::<std::io::Error>(hyper_err).is_some() {
            return ConnectorError::io(err);
        }
        if hyper_err.is_incomplete_message() {
            return ConnectorError::other(err, Some(ErrorKind::TransientError));
        }
        return ConnectorError::other(err, None);
    }
    if let Some(util_err) = find::<hyper_util::client::legacy::Error>(err.as_ref()) {
        if util_err.is_connect() || find::<std::io::Error>(util_err).is_some() {
            return ConnectorError::io(err);
        }
    }
    ConnectorError::other(err, None)
}

fn find<'a, E: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a E> {
    let mut next = Some(err);
    while let Some(err) = next {
        if let Some(found) = err.downcast_ref::<E>() {
            return Some(found);
        }
        next = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::Credentials;
    use aws_sdk_dynamodb::config::{BehaviorVersion, Region};
    use aws_sdk_dynamodb::error::SdkError;
    use aws_sdk_dynamodb::types::AttributeValue;
    use aws_smithy_types::retry::RetryConfig;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    fn dynamo(http: SharedHttpClient, endpoint: &str) -> aws_sdk_dynamodb::Client {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
            .endpoint_url(endpoint)
            .retry_config(RetryConfig::disabled())
            .http_client(http)
            .build();
        aws_sdk_dynamodb::Client::from_conf(config)
    }

    async fn get_item(client: &aws_sdk_dynamodb::Client) -> Result<(), SdkError<impl StdError + 'static>> {
        client.get_item().table_name("t").key("pk", AttributeValue::S("a".into())).send().await.map(|_| ())
    }

    /// A certificate authority and a server certificate for `localhost` signed by it.
    fn authority() -> (rustls::RootCertStore, rustls::ServerConfig) {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = ca.self_signed(&ca_key).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap().signed_by(&key, &ca, &ca_key).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.der().clone()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.der().clone()], rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()))
            .unwrap();
        server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        (roots, server)
    }

    /// Serves one TLS connection: answers every request on it `{}` and reports the negotiated
    /// ALPN protocol and each request's head.
    async fn serve_tls(server: rustls::ServerConfig) -> (u16, tokio::sync::mpsc::UnboundedReceiver<(Option<Vec<u8>>, String)>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let Ok(mut tls) = acceptor.accept(tcp).await else { return };
            let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
            let mut buf = Vec::new();
            loop {
                let mut chunk = [0u8; 4096];
                let n = tls.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    return;
                }
                buf.extend_from_slice(&chunk[..n]);
                let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
                let head = String::from_utf8_lossy(&buf[..end]).to_string();
                let length = head
                    .lines()
                    .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap()))
                    .unwrap_or(0);
                if buf.len() < end + 4 + length {
                    continue;
                }
                buf.drain(..end + 4 + length);
                tx.send((alpn.clone(), head)).unwrap();
                let answer = "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: 2\r\n\r\n{}";
                tls.write_all(answer.as_bytes()).await.unwrap();
            }
        });
        (port, rx)
    }

    #[tokio::test]
    async fn an_sdk_call_over_https_never_negotiates_http_2_and_reuses_its_connection() {
        let (roots, server) = authority();
        let (port, mut seen) = serve_tls(server).await;
        let client = dynamo(Http1Client::shared_with_roots(roots), &format!("https://localhost:{port}"));
        get_item(&client).await.expect("the first call over TLS");
        get_item(&client).await.expect("the second call, on the same pooled connection (the server accepts one)");
        for _ in 0..2 {
            let (alpn, head) = seen.recv().await.unwrap();
            // The server prefers h2; the client offers no ALPN protocol at all (HTTP/1.1 only).
            assert_ne!(alpn.as_deref(), Some(&b"h2"[..]), "the client must never negotiate HTTP/2");
            assert!(head.starts_with("POST / HTTP/1.1\r\n"), "{head}");
            assert!(head.to_ascii_lowercase().contains("x-amz-target: dynamodb_20120810.getitem"), "{head}");
        }
    }

    #[tokio::test]
    async fn a_server_whose_certificate_is_not_trusted_gets_no_request() {
        let (_, server) = authority();
        let (other_roots, _) = authority();
        let (port, mut seen) = serve_tls(server).await;
        let client = dynamo(Http1Client::shared_with_roots(other_roots), &format!("https://localhost:{port}"));
        let err = get_item(&client).await.expect_err("an unknown authority must fail the handshake");
        assert!(matches!(err, SdkError::DispatchFailure(_)), "{err:?}");
        assert!(seen.recv().await.is_none(), "no request may reach an untrusted server");
    }

    #[tokio::test]
    async fn a_refused_connection_is_an_io_error_the_sdk_retries() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let client = dynamo(Http1Client::shared(), &format!("http://127.0.0.1:{port}"));
        match get_item(&client).await {
            Err(SdkError::DispatchFailure(failure)) => assert!(failure.is_io(), "{failure:?}"),
            other => panic!("expected a dispatch failure, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_read_timeout_in_the_settings_ends_a_call_that_gets_no_answer_as_a_timeout() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (_silent, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(30)).await;
        });
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
            .endpoint_url(format!("http://127.0.0.1:{port}"))
            .retry_config(RetryConfig::disabled())
            .timeout_config(aws_smithy_types::timeout::TimeoutConfig::builder().read_timeout(Duration::from_millis(200)).build())
            .http_client(Http1Client::shared())
            .build();
        let client = aws_sdk_dynamodb::Client::from_conf(config);
        match get_item(&client).await {
            Err(SdkError::DispatchFailure(failure)) => assert!(failure.is_timeout(), "{failure:?}"),
            other => panic!("expected a timed-out dispatch, got {other:?}"),
        }
    }
}
