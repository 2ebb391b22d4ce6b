//! Prints the Standard Webhooks headers the delivery worker sends for a body read from stdin,
//! as JSON: `sign_webhook <webhook-id> <unix timestamp> <secret> [<previous secret>]`.
//! `tests/webhooks/test_signature.py` verifies them with the PyPI `standardwebhooks` library.

use std::io::Read;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [id, timestamp, secrets @ ..] = args.as_slice() else {
        eprintln!("usage: sign_webhook <webhook-id> <unix timestamp> <secret> [<previous secret>]");
        std::process::exit(2);
    };
    let timestamp: i64 = timestamp.parse().expect("a unix timestamp");
    let mut body = String::new();
    std::io::stdin().read_to_string(&mut body).expect("a UTF-8 body on stdin");
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let headers = gatehouse::signing::webhook_headers(&secrets, id, timestamp, &body).expect("whsec_ secrets");
    let map: serde_json::Map<String, serde_json::Value> = headers.into_iter().map(|(k, v)| (k.to_string(), v.into())).collect();
    println!("{}", serde_json::Value::Object(map));
}
