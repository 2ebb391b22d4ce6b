//! The pages' Lambda edge: the API Gateway request read into a [`PageRequest`], the
//! [`PageResponse`] written back (one `Set-Cookie` per cookie), panics turned into a 500 page,
//! and one log line per request (method, path without query, status: never a token).

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use futures::future::BoxFuture;
use futures::FutureExt;
use lambda_http::http::header::{HeaderName, HeaderValue, CONTENT_TYPE, COOKIE, HOST, ORIGIN};
use lambda_http::{Body, Request, RequestExt, Response};

use super::web::{parse_cookies, PageRequest};
use super::{handle_main, handle_passwords, PageResponse};
use crate::wiring::Ctx;

/// Reads what the pages use of a request.
pub fn page_request(req: &Request, client_ip: String) -> PageRequest {
    let header = |name| req.headers().get(name).and_then(|v: &HeaderValue| v.to_str().ok()).map(str::to_string);
    let cookies = req.headers().get_all(COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(parse_cookies).collect();
    let query =
        req.query_string_parameters_ref().map(|q| q.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()).unwrap_or_default();
    let body = match req.body() {
        Body::Text(t) => t.as_bytes().to_vec(),
        Body::Binary(b) => b.clone(),
        _ => Vec::new(),
    };
    PageRequest {
        method: req.method().as_str().to_string(),
        path: req.uri().path().to_string(),
        query,
        cookies,
        host: header(HOST).or_else(|| req.uri().authority().map(|a| a.to_string())).unwrap_or_default(),
        origin: header(ORIGIN),
        sec_fetch_site: header(HeaderName::from_static("sec-fetch-site")),
        content_type: header(CONTENT_TYPE),
        body,
        client_ip,
    }
}

/// The Lambda response of a page.
pub fn response(page: PageResponse) -> Response<Body> {
    let mut builder = Response::builder().status(page.status);
    for (name, value) in &page.headers {
        builder = builder.header(*name, value);
    }
    for cookie in &page.cookies {
        builder = builder.header("Set-Cookie", cookie);
    }
    let body = match String::from_utf8(page.body) {
        Ok(text) if text.is_empty() => Body::Empty,
        Ok(text) => Body::Text(text),
        Err(bytes) => Body::Binary(bytes.into_bytes()),
    };
    builder.body(body).expect("page headers are valid")
}

fn panicked() -> Response<Body> {
    Response::builder()
        .status(500)
        .header(CONTENT_TYPE, "text/html; charset=utf-8")
        .header("Cache-Control", "no-store")
        .body(Body::Text("<!doctype html><html lang=\"en\"><title>Error</title><h1>Something went wrong</h1><p>It has been logged. Try again in a moment.</p></html>".into()))
        .expect("static response")
}

/// A page handler as the edge calls it: the pages' `handle` or the console's.
pub type Handler = for<'a> fn(&'a Ctx, &'a crate::config::Config, &'a PageRequest, crate::domain::Timestamp) -> BoxFuture<'a, PageResponse>;

/// Runs a function of pages (the developer pages, the console) over `handler`: the request
/// read, the token secret awaited, panics turned into a 500 page, one log line per request.
pub async fn serve_pages(ctx: &Ctx, what: &'static str, handler: Handler) -> Result<(), lambda_http::Error> {
    crate::logging::init();
    lambda_http::run(lambda_http::service_fn(move |req: Request| async move {
        let started = Instant::now();
        let (method, path) = (req.method().clone(), req.uri().path().to_string());
        let answer = AssertUnwindSafe(async {
            let page = page_request(&req, ctx.client_ip(&req));
            let now = ctx.now(&req);
            match ctx.config_with_secret().await {
                Ok(config) => response(handler(ctx, config, &page, now).await),
                Err(e) => {
                    tracing::error!(error = %crate::error::error_chain(&e), "the token secret is unavailable");
                    panicked()
                }
            }
        })
        .catch_unwind()
        .await
        .unwrap_or_else(|_| {
            tracing::error!(what, "handler panicked");
            panicked()
        });
        tracing::info!(%method, %path, status = answer.status().as_u16(), ms = started.elapsed().as_millis() as u64, "request");
        Ok::<_, std::convert::Infallible>(answer)
    }))
    .await
}

/// Runs the pages function (every page but the password ones: [`super::Pages`]).
pub async fn serve(ctx: &Ctx) -> Result<(), lambda_http::Error> {
    serve_pages(ctx, "pages", |ctx, config, page, now| Box::pin(handle_main(&ctx.store, config, page, now))).await
}

/// Runs the pages-passwords function (the pages that set a password: [`super::Pages`]).
pub async fn serve_passwords(ctx: &Ctx) -> Result<(), lambda_http::Error> {
    serve_pages(ctx, "pages-passwords", |ctx, config, page, now| Box::pin(handle_passwords(&ctx.store, config, page, now))).await
}
