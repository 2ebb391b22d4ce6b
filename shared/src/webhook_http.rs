//! The webhook sender over HTTP (reqwest, rustls with ring): resolves the endpoint's host
//! itself, refuses private, loopback, link-local and metadata addresses
//! ([`check_resolved`]; loopback only with the local switch), then connects to the checked
//! address (the client is pinned to it: no second lookup), follows no redirect, gives up after
//! 15 s and keeps only a short excerpt of the answer.

use std::time::Duration;

use crate::delivery::WebhookSender;
use crate::domain::delivery::{excerpt, is_success, Outcome, EXCERPT_CHARS};
use crate::domain::webhooks::{check_resolved, UrlPolicy, WebhookUrl};

pub const SEND_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, Copy)]
pub struct HttpSender {
    policy: UrlPolicy,
    timeout: Duration,
}

impl HttpSender {
    pub fn new(policy: UrlPolicy) -> Self {
        Self { policy, timeout: SEND_TIMEOUT }
    }
}

fn failed(error: impl Into<String>) -> Outcome {
    Outcome::Failed { status: None, error: error.into() }
}

impl WebhookSender for HttpSender {
    async fn post(&self, url: &str, headers: &[(&'static str, String)], body: &str) -> Outcome {
        let target = match WebhookUrl::parse(url, self.policy) {
            Ok(t) => t,
            Err(e) => return failed(format!("the url {e}")),
        };
        let addrs: Vec<_> = match tokio::net::lookup_host((target.host.as_str(), target.port)).await {
            Ok(a) => a.collect(),
            Err(e) => return failed(format!("the host did not resolve ({e})")),
        };
        let addr = match check_resolved(&addrs, self.policy.allow_loopback_http) {
            Ok(a) => a,
            Err(e) => return failed(e),
        };
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(self.timeout)
            .no_proxy()
            .resolve(&target.host, addr)
            .build();
        let client = match client {
            Ok(c) => c,
            Err(e) => return failed(format!("no HTTP client ({e})")),
        };
        let mut req = client.post(&target.url).header("content-type", "application/json").body(body.to_string());
        for (name, value) in headers {
            req = req.header(*name, value);
        }
        let mut resp = match req.send().await {
            Ok(r) => r,
            Err(e) if e.is_timeout() => return failed(format!("no answer within {} s", self.timeout.as_secs())),
            Err(e) if e.is_connect() => return failed("the connection was refused or failed"),
            Err(e) => return failed(format!("the request failed ({e})")),
        };
        let status = resp.status().as_u16();
        if is_success(status) {
            return Outcome::Delivered { status };
        }
        // Only the start of the answer is read and kept.
        let mut start = Vec::new();
        while start.len() < EXCERPT_CHARS * 4 {
            match resp.chunk().await {
                Ok(Some(c)) => start.extend_from_slice(&c),
                _ => break,
            }
        }
        Outcome::Failed { status: Some(status), error: excerpt(&format!("HTTP {status}: {}", String::from_utf8_lossy(&start))) }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    const LOCAL: UrlPolicy = UrlPolicy { allow_loopback_http: true };

    /// A receiver on loopback answering every request with `answer`; keeps the requests.
    async fn receiver(answer: &'static str) -> (String, Arc<Mutex<Vec<String>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://127.0.0.1:{}/hook", listener.local_addr().unwrap().port());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let mut buf = vec![0u8; 64 * 1024];
                let mut got = Vec::new();
                loop {
                    let n = sock.read(&mut buf).await.unwrap_or(0);
                    got.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&got).to_string();
                    let complete = text.split_once("\r\n\r\n").is_some_and(|(head, body)| {
                        let len = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        body.len() >= len
                    });
                    if n == 0 || complete {
                        break;
                    }
                }
                log.lock().unwrap().push(String::from_utf8_lossy(&got).to_string());
                let _ = sock.write_all(answer.as_bytes()).await;
                let _ = sock.shutdown().await;
            }
        });
        (url, seen)
    }

    fn headers() -> Vec<(&'static str, String)> {
        vec![("webhook-id", "evt_1".into()), ("webhook-timestamp", "1700000000".into()), ("webhook-signature", "v1,abc".into())]
    }

    #[tokio::test]
    async fn a_2xx_from_the_receiver_is_a_delivery_and_it_got_the_signed_body() {
        let (url, seen) = receiver("HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n").await;
        let outcome = HttpSender::new(LOCAL).post(&url, &headers(), r#"{"type":"developer.approved"}"#).await;
        assert_eq!(outcome, Outcome::Delivered { status: 204 });
        let request = seen.lock().unwrap()[0].to_ascii_lowercase();
        assert!(request.starts_with("post /hook "), "{request}");
        assert!(request.contains("webhook-id: evt_1") && request.contains("webhook-signature: v1,abc"), "{request}");
        assert!(request.ends_with(r#"{"type":"developer.approved"}"#), "{request}");
    }

    #[tokio::test]
    async fn a_redirect_is_not_followed_and_only_an_excerpt_of_an_error_answer_is_kept() {
        let (url, seen) =
            receiver("HTTP/1.1 302 Found\r\nlocation: http://169.254.169.254/\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
        let outcome = HttpSender::new(LOCAL).post(&url, &headers(), "{}").await;
        assert!(matches!(outcome, Outcome::Failed { status: Some(302), .. }), "{outcome:?}");
        assert_eq!(seen.lock().unwrap().len(), 1, "the redirect was not followed");

        let long: &'static str =
            Box::leak(format!("HTTP/1.1 500 Oops\r\nconnection: close\r\n\r\n{}", "x".repeat(100_000)).into_boxed_str());
        let (url, _) = receiver(long).await;
        match HttpSender::new(LOCAL).post(&url, &headers(), "{}").await {
            Outcome::Failed { status: Some(500), error } => {
                assert!(error.starts_with("HTTP 500: xxx") && error.chars().count() <= EXCERPT_CHARS, "{error}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_receiver_that_is_down_is_a_failed_attempt_without_status() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let outcome = HttpSender::new(LOCAL).post(&format!("http://127.0.0.1:{port}/hook"), &headers(), "{}").await;
        assert!(matches!(outcome, Outcome::Failed { status: None, .. }), "{outcome:?}");
    }

    #[tokio::test]
    async fn deployed_loopback_and_private_targets_are_refused_before_any_connection() {
        let (url, seen) = receiver("HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n").await;
        let deployed = HttpSender::new(UrlPolicy::default());
        for target in [url.replace("http://", "https://"), url.clone(), "https://10.0.0.1/".into(), "https://169.254.169.254/".into()] {
            assert!(matches!(deployed.post(&target, &headers(), "{}").await, Outcome::Failed { status: None, .. }), "{target}");
        }
        assert!(seen.lock().unwrap().is_empty(), "nothing reached the receiver");
    }
}
