//! The frame codec (filled in below).
