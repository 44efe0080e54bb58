//! Method descriptors: what the handshake says about each method.

use crate::wire::Fingerprint;

/// A method of a service, as both ends agree on it.
///
/// `#[zerowire::service]` generates one constant per method. `id` names the
/// method (service and method name); `fingerprint` covers its signature (the
/// argument and result types' schema fingerprints), so two ends with the same
/// `id` but different `fingerprint`s have different definitions of the method
/// and calls to it fail with `SchemaMismatch` while the others keep working.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MethodDesc {
    /// The service (trait) name.
    pub service: &'static str,
    /// The method name.
    pub name: &'static str,
    /// `method_id(service, name)`.
    pub id: u64,
    /// The signature's fingerprint.
    pub fingerprint: u64,
    /// Which directions are streams (`#[service]` methods with a `Source`
    /// or `Sink` parameter).
    pub streams: StreamKind,
}

/// Which directions of a method carry a stream of messages besides the
/// arguments and the result.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct StreamKind {
    /// The caller sends a request stream after the arguments.
    pub request: bool,
    /// The callee sends a reply stream before the result.
    pub reply: bool,
}

impl StreamKind {
    /// Whether either direction streams.
    pub const fn any(self) -> bool {
        self.request || self.reply
    }
}

impl MethodDesc {
    /// A descriptor; `id` is derived from the names.
    pub const fn new(service: &'static str, name: &'static str, fingerprint: u64) -> Self {
        Self {
            service,
            name,
            id: method_id(service, name),
            fingerprint,
            streams: StreamKind {
                request: false,
                reply: false,
            },
        }
    }

    /// The same method with stream directions `streams`; the kind is mixed
    /// into the fingerprint, so a peer that defines the method without
    /// (or with other) streams gets `SchemaMismatch`.
    pub const fn with_streams(self, streams: StreamKind) -> Self {
        Self {
            fingerprint: Fingerprint::new("streams")
                .u64(self.fingerprint)
                .u64(streams.request as u64)
                .u64(streams.reply as u64)
                .finish(),
            streams,
            ..self
        }
    }
}

/// The id of `service::name`: FNV-1a over both names.
pub const fn method_id(service: &str, name: &str) -> u64 {
    Fingerprint::new("method").str(service).str(name).finish()
}

/// The fingerprint of a method signature from its arguments' and result's
/// fingerprints.
pub const fn signature_fingerprint(args: u64, result: u64) -> u64 {
    Fingerprint::new("signature").u64(args).u64(result).finish()
}
