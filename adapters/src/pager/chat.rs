//! A chat platform as a paging channel: a direct message to each paged person (with an
//! Acknowledge button where the platform has buttons).

use std::sync::Arc;

use async_trait::async_trait;

use super::{Audience, Outbound, Pager, SendError, body_lines};
use crate::chat::{Chat, ChatError};

pub struct ChatPager(pub Arc<dyn Chat>);

#[async_trait]
impl Pager for ChatPager {
    fn name(&self) -> &'static str {
        self.0.platform()
    }

    fn label(&self) -> &'static str {
        "chat"
    }

    fn audience(&self) -> Audience {
        Audience::People
    }

    /// Guarantees: the message carries the delivery's key; a resumed delivery looks for it
    /// in the conversation first, where the platform allows, and is not posted twice.
    async fn send(&self, o: &Outbound) -> Result<String, SendError> {
        let person = o
            .person
            .as_ref()
            .ok_or_else(|| SendError::Permanent("a direct message needs a person".into()))?;
        let text = body_lines(o, self.0.platform()).join("\n");
        let key = o.key();
        match self
            .0
            .page(&person.id, &o.content.incident, &text, &key, o.resumed)
            .await
        {
            Ok(found) if found => Ok(format!("metadata {key} (found in the conversation)")),
            Ok(_) => Ok(format!("metadata {key}")),
            Err(e @ ChatError::NoAccount { .. }) => Err(SendError::Permanent(e.to_string())),
            Err(e) => Err(SendError::retry(e.to_string())),
        }
    }
}
