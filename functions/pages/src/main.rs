//! Pages for people: the developer pages `GET/POST /portal/{portal_id}/...` and the hashed
//! static files `GET /static/...`, server-rendered by `gatehouse::pages` with the same use
//! cases as the JSON API.

use gatehouse::pages;
use gatehouse::wiring::Wiring;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let ctx = Wiring::load(env!("CARGO_PKG_NAME")).await.ctx_with_token_secret();
    pages::lambda::serve(&ctx).await
}
