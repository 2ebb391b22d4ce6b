//! The DynamoDB stream consumer: lifecycle events in, auto-approvals and mail out, with
//! partial batch failures (`ReportBatchItemFailures`).
#![recursion_limit = "256"]

use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use gatehouse::consumer::Consumer;
use gatehouse::wiring::Wiring;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    gatehouse::logging::init();
    let wiring = Wiring::load(env!("CARGO_PKG_NAME")).await;
    // Mail from a sender IAM does not allow would fail for every portal: refuse to start.
    wiring.config.check_sender()?;
    // Link mails need the token secret: fetched while the runtime starts polling, and waited
    // for only by the first record that mails a link.
    let secret = std::sync::Arc::new(wiring.token_secret());
    let consumer = Consumer::with_secret_loader(wiring.dynamo(), wiring.ses(), wiring.config.clone(), wiring.clock, secret);
    let consumer = &consumer;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        async move {
            // Records are parsed one by one, so one malformed record fails alone.
            let records = event.payload.get("Records").and_then(Value::as_array).cloned().unwrap_or_default();
            let result = consumer.handle_batch(&records).await;
            tracing::info!(records = records.len(), failures = result.failures.len(), portal_reads = result.portal_reads, "batch");
            let mut response = DynamoDbEventResponse::default();
            for seq in result.failures {
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = Some(seq);
                response.batch_item_failures.push(failure);
            }
            Ok::<_, Error>(response)
        }
    }))
    .await
}
