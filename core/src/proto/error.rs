//! Errors of the protocol layer.

use core::fmt;

use crate::Wire;

/// Why the callee did not produce a result, as carried by an error reply
/// (`DATA` with `ERROR`; body: [`ErrorBody`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The callee serves no method with this id.
    UnknownMethod,
    /// The callee's definition of the method differs (fingerprints differ).
    SchemaMismatch,
    /// The arguments did not decode.
    BadRequest,
    /// The call was cancelled.
    Cancelled,
    /// The callee had more calls in flight than it accepts.
    Overloaded,
    /// The handler panicked; the message says what it said.
    Panicked,
    /// The callee is closing and did not start the call.
    GoingAway,
    /// Any other failure on the callee's side.
    Internal,
    /// A message exceeds the receiver's `max_message`; the error text is
    /// `"len=N max=M"` (see [`ErrorCode::message_too_large`]).
    MessageTooLarge,
    /// A code this version does not know.
    Other(u16),
}

impl ErrorCode {
    /// The wire value.
    pub const fn to_u16(self) -> u16 {
        match self {
            Self::UnknownMethod => 1,
            Self::SchemaMismatch => 2,
            Self::BadRequest => 3,
            Self::Cancelled => 5,
            Self::Overloaded => 6,
            Self::Internal => 7,
            Self::GoingAway => 8,
            Self::Panicked => 9,
            Self::MessageTooLarge => 10,
            Self::Other(c) => c,
        }
    }

    /// From the wire value.
    pub const fn from_u16(c: u16) -> Self {
        match c {
            1 => Self::UnknownMethod,
            2 => Self::SchemaMismatch,
            3 => Self::BadRequest,
            5 => Self::Cancelled,
            6 => Self::Overloaded,
            7 => Self::Internal,
            8 => Self::GoingAway,
            9 => Self::Panicked,
            10 => Self::MessageTooLarge,
            c => Self::Other(c),
        }
    }
}

impl ErrorCode {
    /// Reads the `"len=N max=M"` text of a `MessageTooLarge` error.
    pub fn message_too_large(text: &str) -> Option<(u64, u64)> {
        // One pass, each piece's code once: this runs on microcontrollers.
        let mut s = text.as_bytes();
        let mut numbers = [0u64; 2];
        for (tag, n) in [&b"len="[..], b" max="].into_iter().zip(&mut numbers) {
            for &want in tag {
                let (&b, rest) = s.split_first()?;
                if b != want {
                    return None;
                }
                s = rest;
            }
            (*n, s) = decimal(s)?;
        }
        let [len, max] = numbers;
        s.is_empty().then_some((len, max))
    }

    /// Writes the `"len=N max=M"` text of a `MessageTooLarge` error into
    /// `out` (without `core::fmt`, which costs flash on a microcontroller).
    pub fn message_too_large_text(len: u64, max: u64, out: &mut [u8; 48]) -> &str {
        fn put(out: &mut [u8; 48], at: &mut usize, b: u8) {
            if let Some(slot) = out.get_mut(*at) {
                *slot = b;
                *at = at.saturating_add(1);
            }
        }
        fn number(out: &mut [u8; 48], at: &mut usize, v: u64) {
            let mut digits = [0u8; 20];
            let mut n = 0usize;
            let mut v = v;
            while let Some(d) = digits.get_mut(n) {
                *d = b'0'.saturating_add((v % 10) as u8);
                n = n.saturating_add(1);
                v /= 10;
                if v == 0 {
                    break;
                }
            }
            for &d in digits.get(..n).unwrap_or_default().iter().rev() {
                put(out, at, d);
            }
        }
        let mut at = 0usize;
        for &b in b"len=" {
            put(out, &mut at, b);
        }
        number(out, &mut at, len);
        for &b in b" max=" {
            put(out, &mut at, b);
        }
        number(out, &mut at, max);
        crate::wire::from_utf8(out.get(..at).unwrap_or_default()).unwrap_or_default()
    }
}

/// The decimal `u64` at the start of `s` and what follows it, with what
/// `str::parse::<u64>` accepts: an optional `+`, at least one digit, no
/// overflow. A hand-written loop: `parse` links about 1.4 KB of generic
/// integer parsing into a firmware that reads `MessageTooLarge` errors.
fn decimal(s: &[u8]) -> Option<(u64, &[u8])> {
    let s = s.strip_prefix(b"+").unwrap_or(s);
    let digits = s.iter().take_while(|b| b.is_ascii_digit()).count();
    let (number, rest) = s.split_at_checked(digits)?;
    if number.is_empty() {
        return None;
    }
    let mut v = 0u64;
    for &b in number {
        v = v
            .checked_mul(10)?
            .checked_add(u64::from(b.wrapping_sub(b'0')))?;
    }
    Some((v, rest))
}

/// The body of an error reply.
#[derive(Wire, Clone, Debug, PartialEq, Eq)]
pub struct ErrorBody<'a> {
    /// [`ErrorCode::to_u16`].
    pub code: u16,
    /// Human-readable detail (a panic message, the decode error).
    pub message: &'a str,
}

/// Why the connection ended. Every pending call fails with `Disconnected`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// Both sides finished a graceful close.
    Graceful,
    /// The peer's HELLO did not arrive in time.
    HandshakeTimeout,
    /// Nothing arrived from the peer for longer than the idle timeout.
    IdleTimeout,
    /// A cancelled call got no final frame within the cancel timeout.
    CancelTimeout,
    /// The peer sent bytes that are not a valid frame sequence.
    FramingError,
    /// The peer broke a protocol rule (reply to an unknown call id, call
    /// beyond its declared methods, …).
    ProtocolViolation,
    /// The peer speaks another protocol version or is not zerowire.
    Incompatible,
    /// The peer closed with an error code (its GOAWAY).
    PeerError(u16),
    /// The transport reported end of stream or an I/O error.
    TransportClosed,
}

impl CloseReason {
    /// The GOAWAY code announcing this reason (0 for a graceful close).
    pub const fn code(self) -> u16 {
        match self {
            Self::Graceful | Self::TransportClosed => 0,
            Self::HandshakeTimeout => 10,
            Self::IdleTimeout => 11,
            Self::CancelTimeout => 12,
            Self::FramingError => 13,
            Self::ProtocolViolation => 14,
            Self::Incompatible => 15,
            Self::PeerError(c) => c,
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Graceful => f.write_str("closed gracefully"),
            Self::HandshakeTimeout => f.write_str("handshake timed out"),
            Self::IdleTimeout => f.write_str("peer went silent"),
            Self::CancelTimeout => f.write_str("a cancelled call was never answered"),
            Self::FramingError => f.write_str("framing error"),
            Self::ProtocolViolation => f.write_str("protocol violation"),
            Self::Incompatible => f.write_str("incompatible peer"),
            Self::PeerError(c) => write!(f, "peer closed with error code {c}"),
            Self::TransportClosed => f.write_str("transport closed"),
        }
    }
}

/// Why a call could not be started now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StartError {
    /// The peer's `max_calls`, or this side's call table, is full; retry
    /// after a call completes (`Overloaded` for callers that do not wait).
    Busy,
    /// The send buffer is above its high-water mark or cannot hold the
    /// frame yet; retry after the driver has written.
    Backpressure,
    /// The method table for this connection is full.
    TooManyMethods,
    /// The arguments do not fit in one frame under the peer's limit.
    TooLarge {
        /// The frame's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The connection is closing or closed.
    Closed,
    /// A message exceeds the peer's `max_message` (checked before any of
    /// it is sent).
    MessageTooLarge {
        /// The message's length.
        len: u64,
        /// The peer's limit.
        max: u64,
    },
}

/// Why data could not be queued on a channel ([`Connection::send_message`],
/// [`Connection::send_chunk`], …).
///
/// [`Connection::send_message`]: super::Connection::send_message
/// [`Connection::send_chunk`]: super::Connection::send_chunk
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// The send buffer cannot take it now, or the previous bulk chunk is
    /// not written yet (fairness: one bulk chunk at a time); retry after
    /// the driver has written.
    Backpressure,
    /// The peer's credit for this call is used up; retry after its CREDIT
    /// ([`Connection::send_capacity`](super::Connection::send_capacity)).
    NoCredit,
    /// The call is finished, cancelled or unknown; nothing was queued.
    Stale,
    /// This direction already ended (FIN_STREAM sent).
    Finished,
    /// A single-frame message exceeds the peer's frame limit or the send
    /// buffer: send it in chunks.
    TooLarge {
        /// The frame's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The message exceeds the peer's `max_message`.
    MessageTooLarge {
        /// The message's length.
        len: u64,
        /// The peer's limit.
        max: u64,
    },
    /// The chunk does not continue the message in progress as declared (a
    /// first chunk without a total while none is in progress, more bytes
    /// than the total, end of stream in the middle of a message).
    Misuse,
    /// The connection is closed.
    Closed,
}

/// How an outgoing call failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure<'a> {
    /// The callee answered with an error reply.
    Remote {
        /// Its code.
        code: ErrorCode,
        /// Its detail text.
        message: &'a str,
    },
    /// The deadline passed; the call was cancelled at the callee.
    DeadlineExceeded,
    /// The connection ended before the reply.
    Disconnected(CloseReason),
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;
    use std::borrow::ToOwned;
    use std::string::String;
    use std::{format, vec};

    /// The reader `message_too_large` had before `decimal`.
    fn with_parse(text: &str) -> Option<(u64, u64)> {
        let rest = text.strip_prefix("len=")?;
        let (len, max) = rest.split_once(" max=")?;
        Some((len.parse().ok()?, max.parse().ok()?))
    }

    #[test]
    fn message_too_large_reads_what_parse_read() {
        let numbers = "|0|7|+7|+|-7|-0|007|12a| 1|1 |18446744073709551615|18446744073709551616|\
                       +18446744073709551615|99999999999999999999|1_0|\u{661}|1 max=2";
        let mut cases = vec![
            String::new(),
            "len=".to_owned(),
            "len=1".to_owned(),
            "len=1 max=".to_owned(),
            "Len=1 max=2".to_owned(),
            "len=1  max=2".to_owned(),
            "len=1 max=2 max=3".to_owned(),
            "len=1 max=2\0".to_owned(),
        ];
        for a in numbers.split('|') {
            for b in numbers.split('|') {
                cases.push(format!("len={a} max={b}"));
            }
        }
        for text in &cases {
            assert_eq!(
                ErrorCode::message_too_large(text),
                with_parse(text),
                "{text:?}"
            );
        }
        let mut out = [0u8; 48];
        for (len, max) in [(0, 0), (20_000, 10_000), (u64::MAX, 1)] {
            let text = ErrorCode::message_too_large_text(len, max, &mut out);
            assert_eq!(ErrorCode::message_too_large(text), Some((len, max)));
        }
    }
}
