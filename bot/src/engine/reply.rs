//! What the person who typed a command is told, and how an HTTP caller sees it.

use serde::Serialize;
use warroom_commands::IncidentId;
use warroom_ledger::LedgerError;

/// The kind of answer, which the HTTP API maps to a status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    Ok,
    /// The command was not understood: 400 with the usage.
    BadInput,
    /// The person may not do this (plan policy, self-approval): 403.
    Refused,
    /// No such incident, request, person or cluster object: 404.
    NotFound,
    /// The request is in a state that does not allow it (decided, expired, stale): 409.
    Conflict,
    /// A guardrail stopped it (reason missing, protected namespace, no evidence): 422.
    Guardrail,
    /// warroom could not do its part (ledger, cluster): 500.
    Failed,
    /// Writes wait for the ledger's copy (`ack = "replicated"`): 503, retry later.
    Unavailable,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Ok => "ok",
            Code::BadInput => "bad_input",
            Code::Refused => "refused",
            Code::NotFound => "not_found",
            Code::Conflict => "conflict",
            Code::Guardrail => "guardrail",
            Code::Failed => "failed",
            Code::Unavailable => "unavailable",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Reply {
    pub ok: bool,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident: Option<String>,
    /// The request's status after the command, when it concerned one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip)]
    pub code: Code,
}

impl Reply {
    fn new(code: Code, message: String) -> Reply {
        Reply {
            ok: code == Code::Ok,
            message,
            request_id: None,
            incident: None,
            status: None,
            code,
        }
    }

    pub fn ok(message: String) -> Reply {
        Reply::new(Code::Ok, message)
    }

    pub fn bad_input(message: String) -> Reply {
        Reply::new(Code::BadInput, message)
    }

    pub fn refused(message: String) -> Reply {
        Reply::new(Code::Refused, message)
    }

    pub fn not_found(message: String) -> Reply {
        Reply::new(Code::NotFound, message)
    }

    pub fn conflict(message: String) -> Reply {
        Reply::new(Code::Conflict, message)
    }

    pub fn guardrail(message: String) -> Reply {
        Reply::new(Code::Guardrail, message)
    }

    pub fn failed(message: String) -> Reply {
        Reply::new(Code::Failed, message)
    }

    pub fn for_incident(mut self, id: &IncidentId) -> Reply {
        self.incident = Some(id.to_string());
        self
    }

    /// Name the request the command concerned and the state it ended in. A request that
    /// ended failed, stale or with an unknown outcome makes the whole answer not ok, whatever
    /// the step that got it there said: a caller must never read success into a failure.
    pub fn for_request(mut self, request: &str, status: &str) -> Reply {
        self.request_id = Some(request.to_owned());
        self.status = Some(status.to_owned());
        if self.ok {
            let code = match status {
                "failed" | "outcome unknown" => Some(Code::Failed),
                "stale" => Some(Code::Conflict),
                _ => None,
            };
            if let Some(code) = code {
                self.code = code;
                self.ok = false;
            }
        }
        self
    }

    pub fn from_ledger(e: LedgerError) -> Reply {
        match e {
            LedgerError::NoSuchIncident(_) => Reply::not_found(e.to_string()),
            LedgerError::Refused(r) => Reply::conflict(r.to_string()),
            LedgerError::TooLarge { .. } => Reply::bad_input(e.to_string()),
            LedgerError::Held(_) => Reply::new(Code::Unavailable, e.to_string()),
            other => {
                tracing::error!(error = %other, "ledger write failed");
                Reply::failed(format!("not recorded: {other}"))
            }
        }
    }
}
