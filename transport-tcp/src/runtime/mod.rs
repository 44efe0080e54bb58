//! Runtime specifics (sockets, timers, tasks), one small module per
//! runtime, all with the same crate-private API; the driver
//! ([`crate::driver`]) only uses what is re-exported here.

#[cfg(feature = "tokio")]
mod tokio;

#[cfg(feature = "tokio")]
pub(crate) use self::tokio::{
    connect, sleep, spawn, timeout_at, Handle, Listener, Socket, TaskHandle, TaskSet, Timer,
};
