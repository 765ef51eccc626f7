//! The client's error type: one enum for every operation, because every operation can fail
//! in the same few ways (the server said no, the network broke, the peer broke the
//! protocol, a deadline passed).

use ringstore_proto::{BodyError, DecodeError, Status};

/// Why a client operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with a typed error status and a message naming the problem.
    ///
    /// The client also uses this variant, with the status the server would have sent, when
    /// it refuses to send a request that breaks a protocol limit (a key over 1023 bytes is
    /// `KeyTooLong`): the limits are the same on both sides, so callers handle one case.
    /// An unknown status code from a newer server arrives as `InternalError`.
    #[error("{status}: {message}")]
    Status {
        /// The response status (never `Ok`).
        status: Status,
        /// The server's message (the bucket, the key, the limit).
        message: String,
    },
    /// Connecting, reading or writing the socket failed. The connection is dropped from the
    /// pool and replaced on next use.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The peer broke the protocol: a bad frame, an unexpected message, a body whose length
    /// differs from what its header announced. The connection is closed.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// No answer within `connect_timeout` or `request_timeout`.
    #[error("timed out")]
    Timeout,
    /// The connection closed before the response arrived.
    #[error("connection closed")]
    Closed,
    /// The handshake failed: unknown access key or wrong secret (`AccessDenied`).
    #[error("authentication failed: {0}")]
    Auth(String),
}

impl Error {
    /// The server's status, if this is a [`Error::Status`].
    pub fn status(&self) -> Option<Status> {
        match self {
            Error::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// `NoSuchKey` or `NoSuchBucket`.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self.status(),
            Some(Status::NoSuchKey | Status::NoSuchBucket)
        )
    }

    /// `AccessDenied` from a request, or a failed handshake.
    pub fn is_access_denied(&self) -> bool {
        matches!(self, Error::Auth(_)) || self.status() == Some(Status::AccessDenied)
    }

    /// Whether repeating the same idempotent request may succeed: a broken or closed
    /// connection, a timeout, or a status the server marks retryable (`Busy`, `Timeout`,
    /// `DeviceUnavailable`). The client does this itself for idempotent operations.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Io(_) | Error::Closed | Error::Timeout => true,
            Error::Status { status, .. } => status.is_retryable(),
            Error::Protocol(_) | Error::Auth(_) => false,
        }
    }

    /// An equivalent error for another waiter: a connection failure is reported to every
    /// request in flight on it, and `std::io::Error` is not `Clone`.
    pub(crate) fn duplicate(&self) -> Error {
        match self {
            Error::Status { status, message } => Error::Status {
                status: *status,
                message: message.clone(),
            },
            Error::Io(e) => Error::Io(std::io::Error::new(e.kind(), e.to_string())),
            Error::Protocol(m) => Error::Protocol(m.clone()),
            Error::Timeout => Error::Timeout,
            Error::Closed => Error::Closed,
            Error::Auth(m) => Error::Auth(m.clone()),
        }
    }

    /// The error for a response frame with a non-`Ok` status code and its message body.
    pub(crate) fn from_status(code: u16, body: &[u8]) -> Error {
        let message = String::from_utf8_lossy(body).into_owned();
        match Status::try_from(code) {
            Ok(status) => Error::Status { status, message },
            // PROTOCOL.md, "Evolution": an unknown status is treated as InternalError.
            Err(code) => Error::Status {
                status: Status::InternalError,
                message: format!("unknown status 0x{code:04x}: {message}"),
            },
        }
    }

    /// Converts this error into an `std::io::Error` for `AsyncRead` adapters.
    pub(crate) fn into_io(self) -> std::io::Error {
        match self {
            Error::Io(e) => e,
            Error::Timeout => std::io::Error::new(std::io::ErrorKind::TimedOut, Error::Timeout),
            other => std::io::Error::other(other),
        }
    }
}

impl From<BodyError> for Error {
    /// A request the client refuses to send, with the status the server would answer.
    fn from(e: BodyError) -> Error {
        Error::Status {
            status: e.status(),
            message: format!("not sent: {e}"),
        }
    }
}

impl From<DecodeError> for Error {
    fn from(e: DecodeError) -> Error {
        Error::Protocol(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        let e = Error::from_status(Status::NoSuchKey.code(), b"no such key 'a'");
        assert!(e.is_not_found() && !e.is_retryable());
        assert_eq!(e.to_string(), "NoSuchKey (0x0403): no such key 'a'");
        let e = Error::from_status(0x0999, b"new");
        assert_eq!(e.status(), Some(Status::InternalError));
        assert!(Error::from_status(Status::Busy.code(), b"").is_retryable());
        assert!(Error::Auth("x".into()).is_access_denied());
        let reset = std::io::ErrorKind::ConnectionReset;
        let io = Error::Io(reset.into());
        assert!(matches!(io.duplicate(), Error::Io(e) if e.kind() == reset));
        assert!(io.is_retryable() && Error::Closed.is_retryable());
        let refused = Error::from(ringstore_proto::BodyError::BadLength {
            field: ringstore_proto::Field::Key,
            len: 2000,
            min: 1,
            max: 1023,
        });
        assert_eq!(refused.status(), Some(Status::KeyTooLong));
    }
}
