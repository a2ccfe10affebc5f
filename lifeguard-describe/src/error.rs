//! The one error type of the describe step.

use std::fmt;

/// Why a statement could not be described. Macros turn it into a compile error at the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// What went wrong, in one sentence.
    pub message: String,
    /// SQLSTATE when the server reported the error.
    pub code: Option<String>,
    /// 1-based character position inside the SQL text, when the server gave one.
    pub position: Option<u32>,
    /// The server's DETAIL field.
    pub detail: Option<String>,
    /// The server's HINT field.
    pub hint: Option<String>,
    /// True when no database could be reached (as opposed to a bad statement).
    pub unreachable: bool,
}

impl Error {
    /// An error with just a message.
    pub fn msg(message: impl Into<String>) -> Error {
        Error {
            message: message.into(),
            code: None,
            position: None,
            detail: None,
            hint: None,
            unreachable: false,
        }
    }

    /// The database could not be reached or the connection broke.
    pub fn unreachable(message: impl Into<String>) -> Error {
        Error {
            unreachable: true,
            ..Error::msg(message)
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(code) = &self.code {
            write!(f, " (SQLSTATE {code})")?;
        }
        if let Some(detail) = &self.detail {
            write!(f, "\ndetail: {detail}")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\nhint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// Result alias.
pub type Result<T> = std::result::Result<T, Error>;
