//! The services the examples share: both processes of an example compile the
//! same trait, which is how they agree on the wire format (the handshake
//! checks it per method).

pub mod bidi;
pub mod calc;
pub mod stream;

/// The address argument of an example binary, or `default`.
pub fn addr_arg(default: &str) -> String {
    std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .unwrap_or_else(|| default.to_string())
}

/// Whether the flag `--name` was given.
pub fn flag(name: &str) -> bool {
    std::env::args().any(|a| a.strip_prefix("--") == Some(name))
}
