//! The handshake block each side sends first.

use crate::Wire;

/// The first four bytes of every HELLO body: `"zwr"` and a format byte.
pub const MAGIC: [u8; 4] = *b"zwr\x01";
/// The protocol version this crate speaks.
pub const PROTOCOL_VERSION: u8 = 1;

/// The HELLO body: limits and schema identity. Each side sends one right
/// after connecting and may send calls straight after it (no round trip);
/// until the peer's HELLO arrives, frames are at most
/// [`PRE_HELLO_MAX_FRAME`](super::PRE_HELLO_MAX_FRAME) bytes.
///
/// The RPC layer fills and checks these fields; the codec only guarantees
/// the layout: a 30-byte fixed block and the `build` string.
#[derive(Wire, Clone, Debug, PartialEq, Eq)]
pub struct Hello<'a> {
    /// Always [`MAGIC`].
    pub magic: [u8; 4],
    /// [`PROTOCOL_VERSION`].
    pub version: u8,
    /// Bit 0: the sender opened the connection (it allocates even call ids,
    /// the acceptor odd ones). Other bits are reserved and zero.
    pub flags: u8,
    /// Calls the sender accepts in flight at once.
    pub max_calls: u16,
    /// Largest frame `len` the sender accepts (at least 128).
    pub max_frame: u32,
    /// Largest reassembled message the sender accepts (0: single-frame only).
    pub max_message: u32,
    /// Bytes per call the peer may send beyond the opening frame before it
    /// needs CREDIT.
    pub initial_credit: u32,
    /// Fingerprint over the sender's method fingerprints, in method order.
    pub service_fp: u64,
    /// Number of methods the sender serves.
    pub n_methods: u16,
    /// Free-form build identification, e.g. `"fw 1.4.2"` (at most 64 bytes
    /// by convention).
    pub build: &'a str,
}
