//! The developer pages that set a password: `POST /portal/{portal_id}/register`,
//! `.../reset-password` and `.../invite`, and `GET/POST .../change-password`. They alone link
//! zxcvbn's dictionaries and Argon2id's hashing, so the `pages` function (every other page)
//! does not (issue 18: zip size). Served by `gatehouse::pages` with the same use cases as the
//! JSON API.

use gatehouse::pages;
use gatehouse::wiring::Wiring;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let ctx = Wiring::load(env!("CARGO_PKG_NAME")).await.ctx_with_token_secret();
    pages::lambda::serve_passwords(&ctx).await
}
