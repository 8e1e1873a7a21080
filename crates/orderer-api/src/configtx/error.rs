//! Why a config update was refused, classified once for the Broadcast status.

use std::fmt;

/// What kind of refusal an [`UpdateError`] is: the node maps it to a Broadcast
/// status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UpdateErrorClass {
    /// The signatures do not satisfy the mod_policy of an element the update
    /// changes (FORBIDDEN). Fabric itself answers BAD_REQUEST here; FORBIDDEN
    /// tells a client that more or other signatures would help.
    Forbidden,
    /// Channel creation while the system channel is in maintenance mode
    /// (SERVICE_UNAVAILABLE, as Fabric's `ErrMaintenanceMode`).
    Maintenance,
    /// Anything else: a malformed update, stale versions, an update that would make
    /// an invalid config (BAD_REQUEST).
    BadRequest,
}

/// A refused config update: its class and a message worded like Fabric's, naming
/// the element (`[Value]  /Channel/Orderer/BatchSize`) and, when a policy failed,
/// the policy and why.
///
/// Displays as the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateError {
    class: UpdateErrorClass,
    message: String,
}

impl UpdateError {
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        UpdateError {
            class: UpdateErrorClass::BadRequest,
            message: message.into(),
        }
    }

    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        UpdateError {
            class: UpdateErrorClass::Forbidden,
            message: message.into(),
        }
    }

    pub(crate) fn maintenance(message: impl Into<String>) -> Self {
        UpdateError {
            class: UpdateErrorClass::Maintenance,
            message: message.into(),
        }
    }

    /// The same error with `context: ` before its message, as Go's
    /// `errors.WithMessage` does.
    pub(crate) fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }

    /// FORBIDDEN, SERVICE_UNAVAILABLE or BAD_REQUEST.
    pub fn class(&self) -> UpdateErrorClass {
        self.class
    }

    /// The message, as displayed.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for UpdateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for UpdateError {}
