//! Compile-time schema fingerprints.
//!
//! A fingerprint is FNV-1a (64 bit) over a canonical description of a type's
//! structure: for a struct, its field names in order, each followed by the
//! fingerprint of the field's type; for an enum, its variant names and their
//! fields; for a container, its kind and its item's fingerprint. The type's
//! own name, doc comments, attributes and generic parameter names do not take
//! part, so two definitions with the same fingerprint have the same encoding.
//! Types that encode identically (`String`, `&str`, `heapless::String<N>`)
//! share a fingerprint, so a desktop and a microcontroller using different
//! containers still agree.

// Index and counter arithmetic below is bounded by the loop conditions, and
// these functions run at compile time on type descriptions, never on input.
#![allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

/// A fingerprint under construction; every method is `const`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fingerprint(u64);

const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

impl Fingerprint {
    /// Starts a fingerprint with a kind tag (`"struct"`, `"u32"`, …).
    #[inline]
    pub const fn new(kind: &str) -> Self {
        Self(OFFSET).str(kind)
    }

    /// Mixes in one byte.
    #[inline]
    pub const fn byte(self, b: u8) -> Self {
        Self((self.0 ^ b as u64).wrapping_mul(PRIME))
    }

    /// Mixes in a name, length-prefixed so that `("ab","c")` differs from
    /// `("a","bc")`.
    #[inline]
    pub const fn str(self, s: &str) -> Self {
        let bytes = s.as_bytes();
        let mut h = self.u64(bytes.len() as u64);
        let mut i = 0;
        while i < bytes.len() {
            h = h.byte(bytes[i]);
            i += 1;
        }
        h
    }

    /// Mixes in a number (a count, an array length, another fingerprint).
    #[inline]
    pub const fn u64(self, v: u64) -> Self {
        let b = v.to_le_bytes();
        let mut h = self;
        let mut i = 0;
        while i < 8 {
            h = h.byte(b[i]);
            i += 1;
        }
        h
    }

    /// The finished fingerprint.
    #[inline]
    pub const fn finish(self) -> u64 {
        self.0
    }
}
