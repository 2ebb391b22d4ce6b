//! The DynamoDB stream consumer: lifecycle events in, auto-approvals and mail out, with
//! partial batch failures (`ReportBatchItemFailures`).
#![recursion_limit = "256"]

use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use gatehouse::app::{self, Clock, Config};
use gatehouse::consumer::Consumer;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env();
    let sdk = app::sdk_config().await;
    let consumer = Consumer { store: app::dynamo(&sdk, &config), mailer: app::ses(&sdk), config, clock: Clock::from_env() };
    let consumer = &consumer;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
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
    }))
    .await
}
