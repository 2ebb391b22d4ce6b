//! Lambda authorizer for API Gateway HTTP APIs (REQUEST type, payload 2.0, simple responses):
//! allows a request whose `x-api-key` exists, belongs to the configured portal, and whose
//! developer is approved; when the route names an API product, the key's application must be
//! subscribed to it. One DynamoDB round trip per decision; API Gateway caches decisions per
//! key for the configured TTL, which bounds how long a revoked developer's key keeps working.
//!
//! Configuration: the portal comes from the stage variable `gatehouse_portal_id` (or
//! `GATEHOUSE_AUTHORIZER_PORTAL_ID`); products per route from `GATEHOUSE_ROUTE_PRODUCTS`,
//! `METHOD:/path=product` pairs separated by commas (e.g. `GET:/orders=orders`).

use std::collections::HashMap;

use aws_lambda_events::event::apigw::{ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV2Request};
use gatehouse::app::{self, Config};
use gatehouse::apps;
use gatehouse::dynamo::Dynamo;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::json;
use uuid::Uuid;

struct Authorizer {
    store: Dynamo,
    portal: Option<Uuid>,
    products: HashMap<String, String>,
}

/// Parses `GET:/orders=orders,POST:/orders=orders-write` into route key → product.
fn route_products(raw: &str) -> HashMap<String, String> {
    raw.split(',')
        .filter_map(|pair| {
            let (route, product) = pair.trim().split_once('=')?;
            let (method, path) = route.split_once(':')?;
            Some((format!("{} {}", method.trim().to_ascii_uppercase(), path.trim()), product.trim().to_string()))
        })
        .collect()
}

impl Authorizer {
    async fn decide(&self, req: &ApiGatewayV2CustomAuthorizerV2Request) -> Result<ApiGatewayV2CustomAuthorizerSimpleResponse, Error> {
        let portal = req.stage_variables.get("gatehouse_portal_id").and_then(|p| p.parse().ok()).or(self.portal);
        let key = req.headers.get("x-api-key").and_then(|v| v.to_str().ok());
        let product = req.route_key.as_deref().and_then(|r| self.products.get(r)).map(String::as_str);
        let grant = match portal {
            Some(portal) => apps::authorize(&self.store, key, portal, product).await?,
            None => {
                tracing::error!("no portal configured for the authorizer");
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
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env();
    let sdk = app::sdk_config(env!("CARGO_PKG_NAME")).await;
    let authorizer = Authorizer {
        store: app::dynamo(&sdk, &config),
        portal: std::env::var("GATEHOUSE_AUTHORIZER_PORTAL_ID").ok().and_then(|p| p.parse().ok()),
        products: route_products(&std::env::var("GATEHOUSE_ROUTE_PRODUCTS").unwrap_or_default()),
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
        let m = route_products("GET:/orders=orders, post:/orders = orders-write,broken");
        assert_eq!(m.get("GET /orders").map(String::as_str), Some("orders"));
        assert_eq!(m.get("POST /orders").map(String::as_str), Some("orders-write"));
        assert_eq!(m.len(), 2);
    }
}
