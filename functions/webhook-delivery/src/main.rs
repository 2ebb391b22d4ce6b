//! Webhook delivery: one attempt per message of the delivery queue (sign, POST through the
//! SSRF-checked sender, record, queue the retry); partial batch failures
//! (`ReportBatchItemFailures`), so one failing message never holds the others.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use gatehouse::delivery_worker::delivery_batch;
use gatehouse::domain::webhooks::UrlPolicy;
use gatehouse::webhook_http::HttpSender;
use gatehouse::wiring::Wiring;
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    gatehouse::logging::init();
    let wiring = Wiring::load(env!("CARGO_PKG_NAME")).await;
    let (store, queue, clock) = (wiring.dynamo(), wiring.delivery_queue()?, wiring.clock);
    let sender = HttpSender::new(UrlPolicy { allow_loopback_http: wiring.config.webhook_allow_loopback_http });
    let rules = wiring.config.delivery_rules();
    let (store, queue, sender, rules) = (&store, &queue, &sender, &rules);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let messages: Vec<(String, String)> =
            event.payload.records.into_iter().map(|m| (m.message_id.unwrap_or_default(), m.body.unwrap_or_default())).collect();
        let failures = delivery_batch(store, queue, sender, rules, &messages, clock.now()).await;
        tracing::info!(messages = messages.len(), failures = failures.len(), "batch");
        let mut response = SqsBatchResponse::default();
        for id in failures {
            response.add_failure(id);
        }
        Ok::<_, Error>(response)
    }))
    .await
}
