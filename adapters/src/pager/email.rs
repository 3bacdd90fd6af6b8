//! Pages by email over SMTP (lettre): one message per paged person with an address.
//!
//! Transport security follows the server: port 465 speaks TLS from the start, a loopback host
//! (a local relay) is plain SMTP, anything else must offer STARTTLS or nothing is sent.

use std::time::Duration;

use async_trait::async_trait;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use warroom_commands::IncidentId;

use super::{Page, Pager, PagerError};

pub struct Email {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

fn failed(message: String) -> PagerError {
    PagerError {
        pager: "email",
        message,
    }
}

impl Email {
    pub fn new(
        host: &str,
        port: u16,
        from: &str,
        credentials: Option<(String, String)>,
    ) -> Result<Email, PagerError> {
        let from: Mailbox = from
            .parse()
            .map_err(|e| failed(format!("`from` address `{from}`: {e}")))?;
        let loopback = matches!(host, "localhost" | "127.0.0.1" | "::1");
        let builder = if port == 465 {
            AsyncSmtpTransport::<Tokio1Executor>::relay(host)
        } else if loopback {
            Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
                host,
            ))
        } else {
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
        }
        .map_err(|e| failed(format!("SMTP server {host}: {e}")))?
        .port(port)
        .timeout(Some(Duration::from_secs(15)));
        let builder = match credentials {
            Some((user, password)) => builder.credentials(Credentials::new(user, password)),
            None => builder,
        };
        Ok(Email {
            transport: builder.build(),
            from,
        })
    }
}

#[async_trait]
impl Pager for Email {
    fn name(&self) -> &'static str {
        "email"
    }

    async fn trigger(&self, page: &Page) -> Result<(), PagerError> {
        let mut errors = Vec::new();
        for person in &page.people {
            let Some(address) = &person.email else {
                continue;
            };
            let to: Mailbox = match format!("{} <{address}>", person.name).parse() {
                Ok(m) => m,
                Err(e) => {
                    errors.push(format!("{}: address `{address}`: {e}", person.id));
                    continue;
                }
            };
            let message = Message::builder()
                .from(self.from.clone())
                .to(to)
                .subject(format!(
                    "{}[warroom] PAGE {} {}: {}",
                    page.prefix(),
                    page.incident,
                    page.severity,
                    page.title
                ))
                .body(format!(
                    "{}You are paged for {} ({}): {}\nStep: {}\nAcknowledge with `ack` in the incident's channel or the console.\n",
                    page.prefix(),
                    page.incident,
                    page.severity,
                    page.title,
                    page.step
                ))
                .map_err(|e| failed(format!("cannot build the message: {e}")))?;
            if let Err(e) = self.transport.send(message).await {
                errors.push(format!("{}: {e}", person.id));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(failed(errors.join("; ")))
        }
    }

    /// Mail cannot be taken back; the acknowledgement is in the timeline.
    async fn acknowledge(&self, _incident: &IncidentId) -> Result<(), PagerError> {
        Ok(())
    }

    async fn resolve(&self, _incident: &IncidentId) -> Result<(), PagerError> {
        Ok(())
    }
}
