//! The console's Lambda edge: the pages' edge (`pages::lambda::serve_pages`: request and
//! response mapping, panics turned into a 500 page, one log line per request without a token
//! or a cookie) over the console's handler.

use super::handle;
use crate::pages::lambda::serve_pages;
use crate::wiring::Ctx;

/// Runs the console function.
pub async fn serve(ctx: &Ctx) -> Result<(), lambda_http::Error> {
    serve_pages(ctx, "console", |ctx, config, page, now| Box::pin(handle(&ctx.store, config, page, now))).await
}
