//! The poll-loop client's storage: one result slot per call in flight,
//! holding the reply's bytes until the application takes the typed result.

use core::marker::PhantomData;

use zerowire::proto::{CallId, CloseReason, ErrorCode, Failure, MethodDesc};
use zerowire::rpc::{CallError, ErrorText};

/// A call started by [`Endpoint::call`](crate::Endpoint::call): a token for
/// taking its result `R` ([`Endpoint::take`](crate::Endpoint::take)) once it
/// is ready.
///
/// Not `Clone`: a result is taken once. A token that is dropped without
/// being taken keeps its result slot until
/// [`Endpoint::cancel`](crate::Endpoint::cancel) or
/// [`Endpoint::forget`](crate::Endpoint::forget) is called with it.
#[derive(Debug)]
#[must_use = "a started call's result slot stays taken until the result is taken or the call cancelled"]
pub struct Pending<R> {
    pub(crate) slot: u16,
    pub(crate) generation: u32,
    _result: PhantomData<fn() -> R>,
}

impl<R> Pending<R> {
    pub(crate) fn new(slot: u16, generation: u32) -> Self {
        Self {
            slot,
            generation,
            _result: PhantomData,
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum SlotState {
    Free,
    Waiting(CallId),
    /// The reply's first `len` bytes are in the slot's buffer.
    Ready(usize),
    /// An error reply with `code`; the first `len` bytes of its message
    /// (cut at a character boundary to fit the slot's buffer) are in the
    /// slot's buffer. Turned into a [`CallError`] when the result is taken
    /// (a failure is stored in a few bytes, not as a `CallError`, and its
    /// conversion is linked only where results are taken).
    Remote(ErrorCode, usize),
    /// A `MessageTooLarge` error reply with its `"len=N max=M"` text
    /// parsed (kept as numbers: the text may not fit the slot's buffer).
    MessageTooLarge(u64, u64),
    /// The reply (`len` bytes) exceeds the slot's buffer.
    TooLarge(usize),
    DeadlineExceeded,
    Disconnected(CloseReason),
    /// A failure this version does not know.
    Unknown,
}

impl SlotState {
    /// Whether the result (or failure) has arrived.
    pub(crate) fn is_done(&self) -> bool {
        !matches!(self, Self::Free | Self::Waiting(_))
    }
}

/// One call's result storage: `REPLY` bytes for the encoded reply (or an
/// error reply's message).
#[derive(Debug)]
pub(crate) struct ResultSlot<const REPLY: usize> {
    pub(crate) state: SlotState,
    pub(crate) generation: u32,
    pub(crate) method: Option<&'static MethodDesc>,
    pub(crate) bytes: [u8; REPLY],
}

impl<const REPLY: usize> ResultSlot<REPLY> {
    pub(crate) const fn new() -> Self {
        Self {
            state: SlotState::Free,
            generation: 0,
            method: None,
            bytes: [0; REPLY],
        }
    }

    /// The arrived result: the reply's bytes, or the failure. `None`
    /// while waiting (or free).
    #[inline(never)]
    pub(crate) fn outcome(&self) -> Option<Result<&[u8], CallError>> {
        let error = match self.state {
            SlotState::Free | SlotState::Waiting(_) => return None,
            SlotState::Ready(len) => return Some(Ok(self.bytes.get(..len).unwrap_or_default())),
            SlotState::Remote(code, len) => {
                let text = self.bytes.get(..len).unwrap_or_default();
                // zerowire's own check: `core::str::from_utf8` would link
                // a second one (about 620 bytes of flash).
                let text = zerowire::wire::from_utf8(text).unwrap_or_default();
                let method = self.method.map_or("", |m| m.name);
                CallError::from_remote(method, code, text)
            }
            SlotState::MessageTooLarge(len, max) => CallError::MessageTooLarge { len, max },
            SlotState::TooLarge(len) => CallError::TooLarge { len, max: REPLY },
            SlotState::DeadlineExceeded => CallError::DeadlineExceeded,
            SlotState::Disconnected(r) => CallError::Disconnected(r),
            SlotState::Unknown => CallError::Internal(ErrorText::new("unknown failure")),
        };
        Some(Err(error))
    }

    pub(crate) fn release(&mut self) {
        self.state = SlotState::Free;
        self.method = None;
        self.generation = self.generation.wrapping_add(1);
    }
}

/// The result slots of an endpoint.
#[derive(Debug)]
pub(crate) struct Results<const CALLS: usize, const REPLY: usize> {
    pub(crate) slots: [ResultSlot<REPLY>; CALLS],
}

impl<const CALLS: usize, const REPLY: usize> Results<CALLS, REPLY> {
    pub(crate) const fn new() -> Self {
        Self {
            slots: [const { ResultSlot::new() }; CALLS],
        }
    }

    /// A free slot's index.
    pub(crate) fn free(&self) -> Option<usize> {
        self.slots
            .iter()
            .position(|s| matches!(s.state, SlotState::Free))
    }

    pub(crate) fn get<R>(&self, p: &Pending<R>) -> Option<&ResultSlot<REPLY>> {
        self.slots
            .get(usize::from(p.slot))
            .filter(|s| s.generation == p.generation)
    }

    pub(crate) fn get_mut<R>(&mut self, p: &Pending<R>) -> Option<&mut ResultSlot<REPLY>> {
        self.slots
            .get_mut(usize::from(p.slot))
            .filter(|s| s.generation == p.generation)
    }

    fn waiting(&mut self, call: CallId) -> Option<&mut ResultSlot<REPLY>> {
        self.slots
            .iter_mut()
            .find(|s| matches!(s.state, SlotState::Waiting(c) if c == call))
    }

    /// Stores a reply body.
    pub(crate) fn complete(&mut self, call: CallId, body: &[u8]) {
        let Some(slot) = self.waiting(call) else {
            return;
        };
        slot.state = match slot.bytes.get_mut(..body.len()) {
            Some(dst) => {
                dst.copy_from_slice(body);
                SlotState::Ready(body.len())
            }
            None => SlotState::TooLarge(body.len()),
        };
    }

    /// Stores a failure.
    pub(crate) fn fail(&mut self, call: CallId, failure: Failure<'_>) {
        let Some(slot) = self.waiting(call) else {
            return;
        };
        slot.state = match failure {
            Failure::Remote {
                code: ErrorCode::MessageTooLarge,
                message,
            } => match ErrorCode::message_too_large(message) {
                Some((len, max)) => SlotState::MessageTooLarge(len, max),
                // What `CallError::from_remote` makes of it.
                None => keep_text(&mut slot.bytes, ErrorCode::Internal, message),
            },
            Failure::Remote { code, message } => keep_text(&mut slot.bytes, code, message),
            Failure::DeadlineExceeded => SlotState::DeadlineExceeded,
            Failure::Disconnected(r) => SlotState::Disconnected(r),
            _ => SlotState::Unknown,
        };
    }

    /// Fails a waiting call whose reply (larger than a frame) exceeds its
    /// slot.
    pub(crate) fn fail_too_large(&mut self, call: CallId) {
        if let Some(slot) = self.waiting(call) {
            slot.state = SlotState::TooLarge(REPLY.saturating_add(1));
        }
    }

    /// Fails every call still waiting (its connection is gone).
    pub(crate) fn disconnect_all(&mut self, reason: CloseReason) {
        for s in &mut self.slots {
            if matches!(s.state, SlotState::Waiting(_)) {
                s.state = SlotState::Disconnected(reason);
            }
        }
    }
}

/// An error reply's state, with as much of its message as fits `bytes`
/// (cut at a character boundary).
fn keep_text(bytes: &mut [u8], code: ErrorCode, message: &str) -> SlotState {
    let mut len = message.len().min(bytes.len());
    while !message.is_char_boundary(len) {
        len = len.saturating_sub(1);
    }
    if let (Some(dst), Some(src)) = (bytes.get_mut(..len), message.as_bytes().get(..len)) {
        dst.copy_from_slice(src);
    }
    SlotState::Remote(code, len)
}

#[cfg(test)]
mod tests {
    use super::{keep_text, ResultSlot, SlotState};
    use zerowire::proto::{CloseReason, ErrorCode};
    use zerowire::rpc::{CallError, ErrorText};

    fn outcome<const REPLY: usize>(state: SlotState, slot: &mut ResultSlot<REPLY>) -> CallError {
        slot.state = state;
        match slot.outcome() {
            Some(Err(e)) => e,
            other => panic!("not a failure: {other:?}"),
        }
    }

    /// A stored failure becomes the `CallError` it stood for when it was
    /// stored as one; an error reply's message is kept as far as the slot's
    /// buffer holds (cut at a character boundary).
    #[test]
    fn failures_are_what_call_error_made_of_them() {
        let mut slot = ResultSlot::<8>::new();
        for (code, message) in [
            (ErrorCode::BadRequest, "bad"),
            (ErrorCode::Panicked, "boom"),
            (ErrorCode::Internal, "12345678"),
            (ErrorCode::Other(77), ""),
            (ErrorCode::Overloaded, "ignored"),
        ] {
            let state = keep_text(&mut slot.bytes, code, message);
            assert_eq!(
                outcome(state, &mut slot),
                CallError::from_remote("", code, message)
            );
        }
        let state = keep_text(&mut slot.bytes, ErrorCode::Internal, "1234567é9");
        assert_eq!(
            outcome(state, &mut slot),
            CallError::Internal(ErrorText::new("1234567"))
        );
        assert_eq!(
            outcome(SlotState::MessageTooLarge(9, 4), &mut slot),
            CallError::MessageTooLarge { len: 9, max: 4 }
        );
        assert_eq!(
            outcome(SlotState::TooLarge(9), &mut slot),
            CallError::TooLarge { len: 9, max: 8 }
        );
        assert_eq!(
            outcome(SlotState::Disconnected(CloseReason::IdleTimeout), &mut slot),
            CallError::Disconnected(CloseReason::IdleTimeout)
        );
        slot.state = SlotState::Free;
        assert!(slot.outcome().is_none());
    }
}
