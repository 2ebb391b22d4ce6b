//! The SES v2 adapter of the [`Mailer`] port: `Simple` content with text and HTML parts
//! rendered by Gatehouse (the emulator does not implement SES templates).

use aws_sdk_sesv2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use aws_sdk_sesv2::Client;

use crate::error::{error_chain, BoxError};
use crate::mail::{Mailer, OutgoingMail, SendError};

#[derive(Clone)]
pub struct Ses {
    client: Client,
    configuration_set: Option<String>,
}

impl Ses {
    /// With the configuration set the wiring read (empty or `None`: none).
    pub fn with_configuration_set(client: Client, configuration_set: Option<String>) -> Self {
        Self { client, configuration_set: configuration_set.filter(|s| !s.is_empty()) }
    }
}

fn content(data: &str) -> Result<Content, BoxError> {
    Ok(Content::builder().data(data).charset("UTF-8").build()?)
}

/// Whether an SES v2 `SendEmail` error (its code and HTTP status) is about this message:
/// a rejected message or address (`MessageRejected`, `BadRequestException` such as an
/// SMTPUTF8 address, `MailFromDomainNotVerifiedException`, and the emulator's
/// `InvalidParameterValue` for an address) fails the same way every time.
/// Throttling, quotas, 5xx and account-wide states (sending paused, suspended, a missing
/// configuration set) are retried: they pass, and the mail must not be lost meanwhile.
pub fn is_permanent(code: Option<&str>, status: u16) -> bool {
    matches!(code, Some("MessageRejected" | "BadRequestException" | "MailFromDomainNotVerifiedException" | "InvalidParameterValue"))
        && status < 500
}

impl Mailer for Ses {
    async fn send(&self, mail: &OutgoingMail) -> Result<String, SendError> {
        let transient = |e: BoxError| SendError::Transient(e);
        let message = Message::builder()
            .subject(content(&mail.content.subject).map_err(transient)?)
            .body(
                Body::builder()
                    .text(content(&mail.content.text).map_err(transient)?)
                    .html(content(&mail.content.html).map_err(transient)?)
                    .build(),
            )
            .build();
        let out = self
            .client
            .send_email()
            .from_email_address(&mail.from)
            .destination(Destination::builder().set_to_addresses(Some(mail.to.clone())).build())
            .content(EmailContent::builder().simple(message).build())
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await
            .map_err(|e| match &e {
                SdkError::ServiceError(se) if is_permanent(se.err().code(), se.raw().status().as_u16()) => {
                    SendError::Permanent(format!("{}: {}", se.err().code().unwrap_or_default(), se.err().message().unwrap_or_default()))
                }
                _ => SendError::Transient(error_chain(&e).into()),
            })?;
        Ok(out.message_id.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::is_permanent;

    #[test]
    fn a_rejected_message_or_address_is_permanent_and_throttling_or_outages_are_retried() {
        for code in ["MessageRejected", "BadRequestException", "MailFromDomainNotVerifiedException", "InvalidParameterValue"] {
            assert!(is_permanent(Some(code), 400), "{code}");
        }
        for (code, status) in [
            (Some("TooManyRequestsException"), 429),
            (Some("LimitExceededException"), 400),
            (Some("SendingPausedException"), 400),
            (Some("AccountSuspendedException"), 400),
            (Some("NotFoundException"), 404),
            (Some("InternalFailure"), 500),
            (Some("BadRequestException"), 503),
            (None, 502),
            (None, 400),
        ] {
            assert!(!is_permanent(code, status), "{code:?} {status}");
        }
    }
}
