//! Lambda authorizer for API Gateway HTTP APIs (REQUEST type, payload 2.0, simple responses):
//! allows a request whose `x-api-key` exists, belongs to the configured portal, and whose
//! developer is approved; when the route names an API product, the key's application must be
//! subscribed to it. One DynamoDB round trip per decision; API Gateway caches decisions per
//! key for the configured TTL, which bounds how long a revoked developer's key keeps working.
//!
//! Configuration: the portal comes from the stage variable `gatehouse_portal_id` (or
//! `GATEHOUSE_AUTHORIZER_PORTAL_ID`); products per route from `GATEHOUSE_ROUTE_PRODUCTS`,
//! `METHOD:/path=product` pairs separated by commas (e.g. `GET:/orders=orders`). A route
//! without a mapping is denied: a route open to every approved developer's key says so with
//! `*` (`GET:/status=*`). API Gateway caches decisions per identity, which is the `x-api-key`
//! header *and* the route key (template.yaml), so an allow for one route is never reused on
//! another.

use std::collections::HashMap;

use aws_lambda_events::event::apigw::{ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV2Request};
use gatehouse::authorizer;
use gatehouse::dynamo::Dynamo;
use gatehouse::wiring::Wiring;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::json;
use uuid::Uuid;

struct Authorizer {
    store: Dynamo,
    portal: Option<Uuid>,
    routes: HashMap<String, RouteRule>,
}

/// What a protected route requires of a key (beyond a live key of an approved developer).
#[derive(Debug, Clone, PartialEq, Eq)]
enum RouteRule {
    /// The key's application must be subscribed to this product.
    Product(String),
    /// `*`: any live key of an approved developer.
    AnyKey,
}

/// Parses `GET:/orders=orders,POST:/orders=orders-write,GET:/status=*` into route key → rule.
fn route_products(raw: &str) -> HashMap<String, RouteRule> {
    raw.split(',')
        .filter_map(|pair| {
            let (route, product) = pair.trim().split_once('=')?;
            let (method, path) = route.split_once(':')?;
            let rule = match product.trim() {
                "" => return None,
                "*" => RouteRule::AnyKey,
                p => RouteRule::Product(p.to_string()),
            };
            Some((format!("{} {}", method.trim().to_ascii_uppercase(), path.trim()), rule))
        })
        .collect()
}

/// The product a route requires (`Some(None)`: none, any key), or `None` when the route has
/// no mapping and is denied.
fn required_product<'a>(routes: &'a HashMap<String, RouteRule>, route_key: Option<&str>) -> Option<Option<&'a str>> {
    match routes.get(route_key?)? {
        RouteRule::Product(p) => Some(Some(p.as_str())),
        RouteRule::AnyKey => Some(None),
    }
}

impl Authorizer {
    async fn decide(&self, req: &ApiGatewayV2CustomAuthorizerV2Request) -> Result<ApiGatewayV2CustomAuthorizerSimpleResponse, Error> {
        let portal = req.stage_variables.get("gatehouse_portal_id").and_then(|p| p.parse().ok()).or(self.portal);
        let key = req.headers.get("x-api-key").and_then(|v| v.to_str().ok());
        let grant = match (portal, required_product(&self.routes, req.route_key.as_deref())) {
            (Some(portal), Some(product)) => authorizer::authorize(&self.store, key, portal, product).await?,
            (None, _) => {
                tracing::error!("no portal configured for the authorizer");
                None
            }
            (_, None) => {
                tracing::warn!(route = ?req.route_key, "route has no product mapping in GATEHOUSE_ROUTE_PRODUCTS: denied");
                None
            }
        };
        let mut response = ApiGatewayV2CustomAuthorizerSimpleResponse::default();
        response.is_authorized = grant.is_some();
        response.context = match grant {
            Some(g) => json!({ "portal_id": g.portal_id, "developer_id": g.developer_id, "application_id": g.application_id }),
            None => json!({}),
        };
        Ok(response)
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    gatehouse::logging::init();
    let wiring = Wiring::load(env!("CARGO_PKG_NAME")).await;
    let authorizer = Authorizer {
        store: wiring.dynamo(),
        portal: wiring.config.authorizer_portal,
        routes: route_products(&wiring.config.route_products),
    };
    let authorizer = &authorizer;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<ApiGatewayV2CustomAuthorizerV2Request>| async move {
        let response = authorizer.decide(&event.payload).await?;
        tracing::info!(route = ?event.payload.route_key, allowed = response.is_authorized, "decision");
        Ok::<_, Error>(response)
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_products_parse_method_path_and_product() {
        let m = route_products("GET:/orders=orders, post:/orders = orders-write,GET:/status=*,broken,GET:/x=");
        assert_eq!(m.get("GET /orders"), Some(&RouteRule::Product("orders".into())));
        assert_eq!(m.get("POST /orders"), Some(&RouteRule::Product("orders-write".into())));
        assert_eq!(m.get("GET /status"), Some(&RouteRule::AnyKey));
        assert_eq!(m.len(), 3);
    }

    #[test]
    fn a_route_without_a_product_mapping_is_denied_by_default() {
        let m = route_products("GET:/orders=orders,GET:/status=*");
        assert_eq!(required_product(&m, Some("GET /orders")), Some(Some("orders")));
        assert_eq!(required_product(&m, Some("GET /status")), Some(None), "* asks for any live key");
        assert_eq!(required_product(&m, Some("GET /admin")), None, "unmapped: denied");
        assert_eq!(required_product(&m, Some("POST /orders")), None, "the method is part of the route");
        assert_eq!(required_product(&m, None), None);
        assert_eq!(required_product(&route_products(""), Some("GET /orders")), None);
    }
}
