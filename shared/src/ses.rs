//! The SES v2 adapter of the [`Mailer`] port: `Simple` content with text and HTML parts
//! rendered by Gatehouse (the emulator does not implement SES templates).

use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use aws_sdk_sesv2::Client;

use crate::error::BoxError;
use crate::mail::{Mailer, OutgoingMail};

#[derive(Clone)]
pub struct Ses {
    client: Client,
    configuration_set: Option<String>,
}

impl Ses {
    pub fn new(client: Client) -> Self {
        Self { client, configuration_set: std::env::var("GATEHOUSE_SES_CONFIGURATION_SET").ok().filter(|s| !s.is_empty()) }
    }
}

fn content(data: &str) -> Result<Content, BoxError> {
    Ok(Content::builder().data(data).charset("UTF-8").build()?)
}

impl Mailer for Ses {
    async fn send(&self, mail: &OutgoingMail) -> Result<String, BoxError> {
        let message = Message::builder()
            .subject(content(&mail.content.subject)?)
            .body(Body::builder().text(content(&mail.content.text)?).html(content(&mail.content.html)?).build())
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
            .map_err(|e| -> BoxError { crate::error::error_chain(&e).into() })?;
        Ok(out.message_id.unwrap_or_default())
    }
}
