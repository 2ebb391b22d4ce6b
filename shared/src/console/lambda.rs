//! The console's Lambda edge: the pages' request and response mapping (`pages::lambda`), the
//! console's handler, panics turned into a 500 page, one log line per request (method, path
//! without query, status: never a token or a cookie).

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use futures::FutureExt;
use lambda_http::{Body, Request, Response};

use super::handle;
use crate::pages::lambda::{page_request, response};
use crate::wiring::Ctx;

fn failed() -> Response<Body> {
    Response::builder()
        .status(500)
        .header("Content-Type", "text/html; charset=utf-8")
        .header("Cache-Control", "no-store")
        .body(Body::Text("<!doctype html><html lang=\"en\"><title>Error</title><h1>Something went wrong</h1><p>It has been logged. Try again in a moment.</p></html>".into()))
        .expect("static response")
}

/// Runs the console function.
pub async fn serve(ctx: &Ctx) -> Result<(), lambda_http::Error> {
    crate::logging::init();
    lambda_http::run(lambda_http::service_fn(move |req: Request| async move {
        let started = Instant::now();
        let (method, path) = (req.method().clone(), req.uri().path().to_string());
        let answer = AssertUnwindSafe(async {
            let page = page_request(&req, ctx.client_ip(&req));
            let now = ctx.now(&req);
            match ctx.config_with_secret().await {
                Ok(config) => response(handle(&ctx.store, config, &page, now).await),
                Err(e) => {
                    tracing::error!(error = %crate::error::error_chain(&e), "the token secret is unavailable");
                    failed()
                }
            }
        })
        .catch_unwind()
        .await
        .unwrap_or_else(|_| {
            tracing::error!("console handler panicked");
            failed()
        });
        tracing::info!(%method, %path, status = answer.status().as_u16(), ms = started.elapsed().as_millis() as u64, "request");
        Ok::<_, std::convert::Infallible>(answer)
    }))
    .await
}
