//! The per-connection tables: calls in flight both ways and the method
//! tables, in storage the caller chooses (arrays or, with `alloc`, vectors).

use super::time::Instant;

/// State of one of this side's outgoing calls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum OutState {
    /// The slot (and its call id) is free.
    #[default]
    Free,
    /// Waiting for the reply.
    Waiting,
    /// The deadline passed and CANCEL was sent; the failure is not yet
    /// reported to the application.
    Expired,
    /// Cancelled (by the application or after reporting a deadline);
    /// waiting for the callee's final frame, which frees the id.
    Abandoned,
}

/// Flow-control and message state of one call, both directions as seen
/// from this side (byte counts are `u32`: windows and messages stay below
/// 4 GiB).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Flow {
    /// Payload bytes this side may still send (the peer's credit).
    pub(crate) send_credit: u32,
    /// Payload bytes the peer may still send before it needs CREDIT.
    pub(crate) recv_allowed: u32,
    /// Bytes received and not yet reported consumed by the application.
    pub(crate) unconsumed: u32,
    /// Bytes consumed and not yet granted back with CREDIT.
    pub(crate) grant: u32,
    /// Receiving: bytes left of a chunked message in progress (0: none;
    /// a message in progress always has bytes left), and its length, which
    /// its last chunk must repeat.
    pub(crate) recv_left: u32,
    pub(crate) recv_total: u32,
    /// Sending: bytes left of a chunked message in progress (0: none, as
    /// for `recv_left`), and its length (repeated in its last chunk).
    pub(crate) send_left: u32,
    pub(crate) send_total: u32,
    /// The peer ended its direction (FIN_STREAM received, or the call
    /// came as a CALL frame: a whole request, nothing follows).
    pub(crate) recv_done: bool,
    /// This side ended its direction (FIN_STREAM sent).
    pub(crate) send_done: bool,
    /// Outgoing calls: the call was opened with `open` and its request is
    /// sent as DATA; `opened` once the frame carrying OPEN is queued.
    pub(crate) streaming: bool,
    pub(crate) opened: bool,
    /// Outgoing streaming calls: this side's index of the method.
    pub(crate) method: u8,
}

impl Flow {
    /// The `Default` (no credit, nothing in progress), as a constant.
    const EMPTY: Self = Self {
        send_credit: 0,
        recv_allowed: 0,
        unconsumed: 0,
        grant: 0,
        recv_left: 0,
        recv_total: 0,
        send_left: 0,
        send_total: 0,
        recv_done: false,
        send_done: false,
        streaming: false,
        opened: false,
        method: 0,
    };
}

impl Default for Flow {
    fn default() -> Self {
        Self::EMPTY
    }
}

/// One of this side's outgoing call slots; slot `i` uses call id
/// `2 * (i + 1) + parity`.
#[derive(Clone, Copy, Debug)]
pub struct OutSlot {
    pub(crate) state: OutState,
    /// `Waiting`: whether `at` is the call's deadline.
    pub(crate) has_deadline: bool,
    pub(crate) generation: u32,
    /// `Waiting` with `has_deadline`: the deadline. `Expired` and
    /// `Abandoned`: when the slot entered that state (for the cancel
    /// timeout). One field for both: a slot needs one or the other, and
    /// on a microcontroller each of them costs 8 bytes (16 for an
    /// `Option<Instant>`) per call slot.
    pub(crate) at: Instant,
    pub(crate) flow: Flow,
}

impl OutSlot {
    /// A free slot (the `Default` is this constant: an array of constants
    /// is built with one `memset` where the `Default` of each element is
    /// stored field by field, about 240 bytes of flash for 4 + 4 slots).
    const EMPTY: Self = Self {
        state: OutState::Free,
        has_deadline: false,
        generation: 0,
        at: Instant::ZERO,
        flow: Flow::EMPTY,
    };

    /// The deadline of a `Waiting` call.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.has_deadline.then_some(self.at)
    }
}

impl Default for OutSlot {
    fn default() -> Self {
        Self::EMPTY
    }
}

/// One of the peer's calls being served here.
#[derive(Clone, Copy, Debug)]
pub struct InSlot {
    pub(crate) running: bool,
    /// Not the call id's home slot (`Inner::home`); kept rather than
    /// worked out again when the call ends (that cost 50 instructions per
    /// served call on a Cortex-M4, and the flag sits in padding).
    pub(crate) displaced: bool,
    pub(crate) id: u64,
    pub(crate) generation: u32,
    pub(crate) flow: Flow,
}

impl InSlot {
    /// A free slot (see [`OutSlot::EMPTY`]).
    const EMPTY: Self = Self {
        running: false,
        displaced: false,
        id: 0,
        generation: 0,
        flow: Flow::EMPTY,
    };
}

impl Default for InSlot {
    fn default() -> Self {
        Self::EMPTY
    }
}

/// What the peer's declared method index `i` means here.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PeerMethod {
    /// Not declared (yet).
    #[default]
    Unset,
    /// Served here as method `index` of the served table.
    Local(u16),
    /// Served here, but the peer's definition differs.
    Mismatch(u16),
    /// Not served here.
    Unknown,
}

/// Storage for a connection's tables. Implemented for [`ArrayTables`]
/// (const capacities, no heap) and, with `alloc`, [`VecTables`].
pub trait Tables {
    /// This side's outgoing call slots, read-only.
    fn out_calls_ref(&self) -> &[OutSlot];
    /// This side's outgoing call slots (their number bounds calls in flight).
    fn out_calls(&mut self) -> &mut [OutSlot];
    /// Slots for the peer's calls being served (their number is the
    /// `max_calls` this side announces, capped by the configuration).
    fn in_calls(&mut self) -> &mut [InSlot];
    /// The peer's declared methods, by the peer's index.
    fn peer_methods(&mut self) -> &mut [PeerMethod];
    /// The ids of the methods this side declared, by this side's index.
    fn declared(&mut self) -> &mut [u64];
}

/// Tables with compile-time capacities: `CALLS` calls in flight each way,
/// `METHODS` declared methods each way. No heap.
#[derive(Debug)]
pub struct ArrayTables<const CALLS: usize, const METHODS: usize> {
    out_calls: [OutSlot; CALLS],
    in_calls: [InSlot; CALLS],
    peer_methods: [PeerMethod; METHODS],
    declared: [u64; METHODS],
}

impl<const CALLS: usize, const METHODS: usize> ArrayTables<CALLS, METHODS> {
    /// Empty tables.
    pub fn new() -> Self {
        Self {
            out_calls: [OutSlot::EMPTY; CALLS],
            in_calls: [InSlot::EMPTY; CALLS],
            peer_methods: [PeerMethod::Unset; METHODS],
            declared: [0; METHODS],
        }
    }
}

impl<const CALLS: usize, const METHODS: usize> Default for ArrayTables<CALLS, METHODS> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const CALLS: usize, const METHODS: usize> Tables for ArrayTables<CALLS, METHODS> {
    fn out_calls_ref(&self) -> &[OutSlot] {
        &self.out_calls
    }
    fn out_calls(&mut self) -> &mut [OutSlot] {
        &mut self.out_calls
    }
    fn in_calls(&mut self) -> &mut [InSlot] {
        &mut self.in_calls
    }
    fn peer_methods(&mut self) -> &mut [PeerMethod] {
        &mut self.peer_methods
    }
    fn declared(&mut self) -> &mut [u64] {
        &mut self.declared
    }
}

/// Heap-backed tables with capacities chosen at run time.
#[cfg(feature = "alloc")]
#[derive(Debug)]
pub struct VecTables {
    out_calls: alloc::vec::Vec<OutSlot>,
    in_calls: alloc::vec::Vec<InSlot>,
    peer_methods: alloc::vec::Vec<PeerMethod>,
    declared: alloc::vec::Vec<u64>,
}

#[cfg(feature = "alloc")]
impl VecTables {
    /// Tables for `calls` calls in flight each way and `methods` declared
    /// methods each way (see [`with_capacities`](Self::with_capacities)).
    pub fn new(calls: usize, methods: usize) -> Self {
        Self::with_capacities(calls, calls, methods)
    }

    /// Tables for `out_calls` calls of this side and `in_calls` calls of the
    /// peer in flight at once, and `methods` declared methods each way.
    pub fn with_capacities(out_calls: usize, in_calls: usize, methods: usize) -> Self {
        Self {
            out_calls: alloc::vec![OutSlot::default(); out_calls],
            in_calls: alloc::vec![InSlot::default(); in_calls],
            peer_methods: alloc::vec![PeerMethod::Unset; methods],
            declared: alloc::vec![0; methods],
        }
    }
}

#[cfg(feature = "alloc")]
impl Tables for VecTables {
    fn out_calls_ref(&self) -> &[OutSlot] {
        &self.out_calls
    }
    fn out_calls(&mut self) -> &mut [OutSlot] {
        &mut self.out_calls
    }
    fn in_calls(&mut self) -> &mut [InSlot] {
        &mut self.in_calls
    }
    fn peer_methods(&mut self) -> &mut [PeerMethod] {
        &mut self.peer_methods
    }
    fn declared(&mut self) -> &mut [u64] {
        &mut self.declared
    }
}
