//! Webhook fan-out: lifecycle events from the DynamoDB stream (the same filter as the stream
//! consumer, its own event source mapping and checkpoints) become one delivery per matching
//! endpoint, queued on the delivery queue; partial batch failures (`ReportBatchItemFailures`).

use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use gatehouse::delivery::fan_out_batch;
use gatehouse::wiring::Wiring;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    gatehouse::logging::init();
    let wiring = Wiring::load(env!("CARGO_PKG_NAME")).await;
    let (store, queue, clock) = (wiring.dynamo(), wiring.delivery_queue()?, wiring.clock);
    let (store, queue) = (&store, &queue);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // Records are parsed one by one, so one malformed record fails alone.
        let records = event.payload.get("Records").and_then(Value::as_array).cloned().unwrap_or_default();
        let failures = fan_out_batch(store, queue, &records, clock.now()).await;
        tracing::info!(records = records.len(), failures = failures.len(), "batch");
        let mut response = DynamoDbEventResponse::default();
        for seq in failures {
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = Some(seq);
            response.batch_item_failures.push(failure);
        }
        Ok::<_, Error>(response)
    }))
    .await
}
