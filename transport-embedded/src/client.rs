//! The poll-loop client's storage: one result slot per call in flight,
//! holding the reply's bytes until the application takes the typed result.

use core::marker::PhantomData;

use zerowire::proto::{CallId, CloseReason, Failure, MethodDesc};
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
    Failed(CallError),
}

/// One call's result storage: `REPLY` bytes for the encoded reply.
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

    pub(crate) fn method_name(&self) -> &'static str {
        self.method.map_or("", |m| m.name)
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
            None => SlotState::Failed(CallError::TooLarge {
                len: body.len(),
                max: REPLY,
            }),
        };
    }

    /// Stores a failure.
    pub(crate) fn fail(&mut self, call: CallId, failure: Failure<'_>) {
        let Some(slot) = self.waiting(call) else {
            return;
        };
        let error = match failure {
            Failure::Remote { code, message } => {
                CallError::from_remote(slot.method_name(), code, message)
            }
            Failure::DeadlineExceeded => CallError::DeadlineExceeded,
            Failure::Disconnected(r) => CallError::Disconnected(r),
            _ => CallError::Internal(ErrorText::new("unknown failure")),
        };
        slot.state = SlotState::Failed(error);
    }

    /// Fails a waiting call with `error`.
    pub(crate) fn fail_with(&mut self, call: CallId, error: CallError) {
        if let Some(slot) = self.waiting(call) {
            slot.state = SlotState::Failed(error);
        }
    }

    /// Fails every call still waiting (its connection is gone).
    pub(crate) fn disconnect_all(&mut self, reason: CloseReason) {
        for s in &mut self.slots {
            if matches!(s.state, SlotState::Waiting(_)) {
                s.state = SlotState::Failed(CallError::Disconnected(reason));
            }
        }
    }
}
