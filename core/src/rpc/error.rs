//! [`CallError`], the error of a remote call.

use core::fmt;

use crate::proto::{CloseReason, ErrorCode};
use crate::wire::DecodeError;

/// A short text carried in an error reply (a panic message, a decode error),
/// stored inline: at most [`ErrorText::CAPACITY`] bytes, cut at a character
/// boundary. No allocation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ErrorText {
    len: u8,
    bytes: [u8; Self::CAPACITY],
}

impl ErrorText {
    /// Bytes kept.
    pub const CAPACITY: usize = 100;

    /// Copies at most `CAPACITY` bytes of `s`.
    pub fn new(s: &str) -> Self {
        let mut end = s.len().min(Self::CAPACITY);
        while !s.is_char_boundary(end) {
            end = end.saturating_sub(1);
        }
        let mut bytes = [0u8; Self::CAPACITY];
        let src = s.as_bytes().get(..end).unwrap_or_default();
        if let Some(dst) = bytes.get_mut(..end) {
            dst.copy_from_slice(src);
        }
        Self {
            len: u8::try_from(end).unwrap_or(0),
            bytes,
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        let bytes = self.bytes.get(..usize::from(self.len)).unwrap_or_default();
        crate::wire::from_utf8(bytes).unwrap_or_default()
    }
}

impl fmt::Debug for ErrorText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for ErrorText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a call failed. `E` is the handler's typed error (`Result<T, E>`
/// methods); every other variant is a transport or protocol failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallError<E = core::convert::Infallible> {
    /// The handler returned `Err(e)`.
    Remote(E),
    /// The callee defines this method differently (signature fingerprints
    /// differ); other methods keep working.
    SchemaMismatch {
        /// The method.
        method: &'static str,
    },
    /// The callee does not serve this method.
    UnknownMethod {
        /// The method.
        method: &'static str,
    },
    /// The callee could not decode the arguments.
    BadRequest(ErrorText),
    /// The reply did not decode as the method's result type.
    BadResponse(DecodeError),
    /// The handler panicked (the callee keeps serving).
    Panicked(ErrorText),
    /// No reply within the call's deadline; the call was cancelled at the
    /// callee.
    DeadlineExceeded,
    /// The call was cancelled.
    Cancelled,
    /// The callee had too many calls in flight, or this side's queue for
    /// the callee's `max_calls` was full.
    Overloaded,
    /// The arguments or result exceed a frame under the receiver's limit.
    TooLarge {
        /// The frame's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A message exceeds the receiver's `max_message` (announced in its
    /// HELLO): the arguments (checked before anything is sent) or the
    /// result (checked by the callee before it sends).
    MessageTooLarge {
        /// The message's length.
        len: u64,
        /// The receiver's limit.
        max: u64,
    },
    /// The callee is shutting down and did not run the call.
    GoingAway,
    /// The connection ended before the reply (nothing is re-sent).
    Disconnected(CloseReason),
    /// Any other failure at the callee.
    Internal(ErrorText),
}

impl CallError {
    /// The same failure for a method with typed error `E`.
    pub fn widen<E>(self) -> CallError<E> {
        match self {
            Self::Remote(never) => match never {},
            Self::SchemaMismatch { method } => CallError::SchemaMismatch { method },
            Self::UnknownMethod { method } => CallError::UnknownMethod { method },
            Self::BadRequest(t) => CallError::BadRequest(t),
            Self::BadResponse(e) => CallError::BadResponse(e),
            Self::Panicked(t) => CallError::Panicked(t),
            Self::DeadlineExceeded => CallError::DeadlineExceeded,
            Self::Cancelled => CallError::Cancelled,
            Self::Overloaded => CallError::Overloaded,
            Self::TooLarge { len, max } => CallError::TooLarge { len, max },
            Self::MessageTooLarge { len, max } => CallError::MessageTooLarge { len, max },
            Self::GoingAway => CallError::GoingAway,
            Self::Disconnected(r) => CallError::Disconnected(r),
            Self::Internal(t) => CallError::Internal(t),
        }
    }

    /// The failure an error reply with `code` and `message` stands for.
    pub fn from_remote(method: &'static str, code: ErrorCode, message: &str) -> Self {
        match code {
            ErrorCode::UnknownMethod => Self::UnknownMethod { method },
            ErrorCode::SchemaMismatch => Self::SchemaMismatch { method },
            ErrorCode::BadRequest => Self::BadRequest(ErrorText::new(message)),
            ErrorCode::Cancelled => Self::Cancelled,
            ErrorCode::Overloaded => Self::Overloaded,
            ErrorCode::Panicked => Self::Panicked(ErrorText::new(message)),
            ErrorCode::GoingAway => Self::GoingAway,
            ErrorCode::MessageTooLarge => match ErrorCode::message_too_large(message) {
                Some((len, max)) => Self::MessageTooLarge { len, max },
                None => Self::Internal(ErrorText::new(message)),
            },
            ErrorCode::Internal | ErrorCode::Other(_) => Self::Internal(ErrorText::new(message)),
        }
    }
}

impl<E: fmt::Display> fmt::Display for CallError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Remote(e) => write!(f, "remote error: {e}"),
            Self::SchemaMismatch { method } => {
                write!(
                    f,
                    "schema mismatch: the peer defines `{method}` differently"
                )
            }
            Self::UnknownMethod { method } => write!(f, "the peer does not serve `{method}`"),
            Self::BadRequest(t) => write!(f, "the peer could not decode the arguments: {t}"),
            Self::BadResponse(e) => write!(f, "the reply did not decode: {e}"),
            Self::Panicked(t) => write!(f, "the handler panicked: {t}"),
            Self::DeadlineExceeded => f.write_str("deadline exceeded"),
            Self::Cancelled => f.write_str("cancelled"),
            Self::Overloaded => f.write_str("the peer is overloaded"),
            Self::TooLarge { len, max } => {
                write!(f, "message of {len} bytes exceeds the limit of {max}")
            }
            Self::MessageTooLarge { len, max } => write!(
                f,
                "message of {len} bytes exceeds the receiver's limit of {max}"
            ),
            Self::GoingAway => f.write_str("the peer is shutting down"),
            Self::Disconnected(r) => write!(f, "disconnected: {r}"),
            Self::Internal(t) => write!(f, "internal error at the peer: {t}"),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> core::error::Error for CallError<E> {}
