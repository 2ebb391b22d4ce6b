//! The HTTP API's `$default` route: API Gateway sends it every request no other route matches.
//! A path some route has, asked with another method, is a 405 problem with `Allow`; any other
//! path a 404 problem. The route table is `gatehouse::routes` (checked against the template).
//! No AWS access: nothing to read, nothing to write.

use gatehouse::http::{self, route_not_found, HttpResult};
use gatehouse::routes::allowed_methods;
use gatehouse::AppError;
use lambda_http::{Request, RequestExt};

fn unmatched(req: &Request) -> HttpResult {
    // API Gateway matches the raw path; lambda_http keeps it beside the parsed URI.
    let path = req.raw_http_path();
    let path = if path.is_empty() { req.uri().path() } else { path };
    let allow = allowed_methods(path);
    if allow.is_empty() {
        return Err(route_not_found());
    }
    Err(AppError::MethodNotAllowed { method: req.method().to_string(), allow })
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    http::serve(|req| async move { unmatched(&req) }).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::Body;

    fn request(method: &str, path: &str) -> Request {
        lambda_http::http::Request::builder().method(method).uri(path).body(Body::Empty).unwrap()
    }

    #[test]
    fn a_known_path_with_another_method_is_405_with_allow() {
        let e = unmatched(&request("PUT", "/api/portals/abc")).unwrap_err();
        assert_eq!(e.status(), 405);
        let resp = http::problem(&e);
        assert_eq!(resp.headers()["allow"], "GET, PATCH");
        assert_eq!(resp.headers()["content-type"], "application/problem+json");
    }

    #[test]
    fn an_unknown_path_is_404() {
        assert_eq!(unmatched(&request("GET", "/api/nowhere")).unwrap_err().status(), 404);
        assert_eq!(unmatched(&request("GET", "/api/portals/")).unwrap_err().status(), 404);
    }
}
