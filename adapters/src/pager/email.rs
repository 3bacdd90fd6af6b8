//! Pages by e-mail over SMTP (lettre): one message per paged person with an address.
//!
//! Transport security follows the server: port 465 speaks TLS from the start, a loopback host
//! (a local relay) is plain SMTP, anything else must offer STARTTLS or nothing is sent.
//! Every attempt of one delivery has the same `Message-ID`, and a follow-up answers in the
//! page's thread (`In-Reply-To`, `References`), so a mail client shows a repeat once and the
//! acknowledgement under the page.

use std::time::Duration;

use async_trait::async_trait;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use warroom_commands::outbox::SendKind;

use super::{Audience, Outbound, PagedPerson, Pager, SendError, body_lines, subject};

pub struct Email {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Email {
    pub fn new(
        host: &str,
        port: u16,
        from: &str,
        credentials: Option<(String, String)>,
    ) -> Result<Email, String> {
        let from: Mailbox = from
            .parse()
            .map_err(|e| format!("email: `from` address `{from}`: {e}"))?;
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
        .map_err(|e| format!("email: SMTP server {host}: {e}"))?
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

    /// `<INC-….P2.alice.INSTALLATION@domain>`: the same for every attempt of a delivery.
    fn message_id(&self, key: &str) -> String {
        let local: String = key
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '.'
                }
            })
            .collect();
        format!("<{local}@{}>", self.from.email.domain())
    }
}

#[async_trait]
impl Pager for Email {
    fn name(&self) -> &'static str {
        "email"
    }

    fn label(&self) -> &'static str {
        "e-mail"
    }

    fn audience(&self) -> Audience {
        Audience::People
    }

    fn reaches(&self, person: &PagedPerson) -> bool {
        person.email.is_some()
    }

    /// Guarantees: one message per attempt, each with the delivery's own `Message-ID`.
    /// Caveat: SMTP has no idempotency of its own; a repeat after a lost answer arrives twice
    /// with the same `Message-ID` (mail clients and most servers fold it).
    async fn send(&self, o: &Outbound) -> Result<String, SendError> {
        let person = o
            .person
            .as_ref()
            .ok_or_else(|| SendError::Permanent("an e-mail needs a person".into()))?;
        let address = person.email.as_deref().ok_or_else(|| {
            SendError::Permanent(format!("{} has no e-mail address in the plan", person.id))
        })?;
        let to = recipient(&person.name, address)?;
        let id = self.message_id(&o.key());
        let mut subject = subject(o);
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .message_id(Some(id.clone()));
        if let (true, Some(thread)) = (o.kind != SendKind::Page, o.thread_key()) {
            let parent = self.message_id(&thread);
            builder = builder.in_reply_to(parent.clone()).references(parent);
            subject = format!("Re: {subject}");
        }
        let message = builder
            .subject(subject)
            .body(body_lines(o, "email").join("\n") + "\n")
            .map_err(|e| SendError::Permanent(format!("cannot build the message: {e}")))?;
        match self.transport.send(message).await {
            Ok(_) => Ok(format!("Message-ID {id}")),
            Err(e) if e.is_permanent() => Err(SendError::Permanent(format!(
                "the mail server refused {address}: {e}"
            ))),
            Err(e) => Err(SendError::retry(format!("mail to {address}: {e}"))),
        }
    }
}

/// The mailbox a page goes to: the person's name as a display name, quoted as needed, so a
/// name such as "Doe, Jane" or "Jane [SRE]" never stops the page.
fn recipient(name: &str, address: &str) -> Result<Mailbox, SendError> {
    let address = address
        .parse()
        .map_err(|e| SendError::Permanent(format!("address `{address}`: {e}")))?;
    Ok(Mailbox::new(Some(name.to_owned()), address))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_commas_and_brackets_still_reach_their_address() {
        for name in ["Doe, Jane", "Jane [SRE]", "Jane \"JJ\" O'Neil", "Ana"] {
            let to = recipient(name, "jane@northwind.example").unwrap();
            assert_eq!(to.email.to_string(), "jane@northwind.example");
            assert_eq!(to.name.as_deref(), Some(name));
            // The header it makes reads back as the same mailbox.
            let back: Mailbox = to.to_string().parse().unwrap();
            assert_eq!(back, to, "{to}");
        }
        let bad = recipient("Jane", "not an address");
        assert!(
            matches!(&bad, Err(SendError::Permanent(m)) if m.contains("`not an address`")),
            "{:?}",
            bad.err()
        );
    }
}
