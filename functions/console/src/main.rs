//! The admin console (issue 16): `GET|POST /console/...`, server-rendered by
//! `gatehouse::console` with the same use cases as the JSON admin API.

use gatehouse::console;
use gatehouse::wiring::Wiring;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let wiring = Wiring::load(env!("CARGO_PKG_NAME")).await;
    let replays = wiring.delivery_queue().ok();
    let ctx = wiring.ctx_with_token_secret();
    console::lambda::serve(&ctx, replays).await
}
