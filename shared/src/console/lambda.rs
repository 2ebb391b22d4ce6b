//! The console's Lambda edge: the pages' edge (`pages::lambda::serve_pages`: request and
//! response mapping, panics turned into a 500 page, one log line per request without a token
//! or a cookie) over the console's handler.

use std::sync::OnceLock;

use super::handle;
use crate::pages::lambda::serve_pages;
use crate::sqs::Sqs;
use crate::wiring::Ctx;

/// The delivery queue of webhook replays (set once at start-up; absent when not configured).
static REPLAYS: OnceLock<Option<Sqs>> = OnceLock::new();

/// Runs the console function.
pub async fn serve(ctx: &Ctx, replays: Option<Sqs>) -> Result<(), lambda_http::Error> {
    let _ = REPLAYS.set(replays);
    serve_pages(ctx, "console", |ctx, config, page, now| {
        Box::pin(handle(&ctx.store, REPLAYS.get().and_then(Option::as_ref), config, page, now))
    })
    .await
}
