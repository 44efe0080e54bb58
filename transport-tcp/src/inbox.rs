//! The queue from a connection's handles to its driver task.
//!
//! Every call, notification, cancel and close of a connection passes
//! through here, from every task that calls on it. A handle appends its
//! command under a lock and wakes the driver only if the driver waits for
//! one; the driver takes all queued commands at once by swapping vectors.
//! So a batch of calls costs the driver one lock, and a handle one lock
//! and, while the driver is busy anyway, no wake-up. (An unbounded channel
//! did the same job at several contended atomic operations per command:
//! 10% of the CPU time with 256 calls in flight.)

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use crate::peer::Command;

/// Commands on their way to one connection's driver, in the order they
/// were sent.
#[derive(Default)]
pub(crate) struct Inbox {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    cmds: Vec<Command>,
    /// The driver's waker while it waits for a command; taken by the
    /// command that wakes it, so later ones do not wake it again.
    waker: Option<Waker>,
    closed: bool,
}

impl Inbox {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while the lock is held leaves a valid vector behind.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `cmd` for the driver; gives it back once the driver has
    /// closed the inbox.
    pub(crate) fn send(&self, cmd: Command) -> Result<(), Command> {
        let waker = {
            let mut s = self.lock();
            if s.closed {
                return Err(cmd);
            }
            s.cmds.push(cmd);
            s.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// Moves every queued command into `into` (which the driver passes in
    /// empty, keeping its capacity between rounds). `Pending`, with the
    /// driver's waker kept for the next command, when there is none.
    pub(crate) fn poll_take(&self, cx: &mut Context<'_>, into: &mut Vec<Command>) -> Poll<()> {
        let mut s = self.lock();
        if s.cmds.is_empty() {
            if !s.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                s.waker = Some(cx.waker().clone());
            }
            return Poll::Pending;
        }
        std::mem::swap(&mut s.cmds, into);
        Poll::Ready(())
    }

    /// Refuses commands from now on and returns the ones not taken yet
    /// (the caller fails or drops them, outside the lock).
    pub(crate) fn close(&self) -> Vec<Command> {
        let mut s = self.lock();
        s.closed = true;
        s.waker = None;
        std::mem::take(&mut s.cmds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn one_wake_per_wait_commands_in_order_and_none_after_close() {
        let inbox = Inbox::default();
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let mut got = Vec::new();
        assert!(inbox.poll_take(&mut cx, &mut got).is_pending());
        for token in 0..3 {
            assert!(inbox.send(Command::Cancel(token)).is_ok());
        }
        // Only the first command woke the waiting driver.
        assert_eq!(count.0.load(Ordering::Relaxed), 1);
        assert!(inbox.poll_take(&mut cx, &mut got).is_ready());
        let tokens: Vec<u64> = got
            .iter()
            .map(|c| match c {
                Command::Cancel(t) => *t,
                _ => u64::MAX,
            })
            .collect();
        assert_eq!(tokens, [0, 1, 2]);
        // Not waiting: a command queues without a wake-up.
        assert!(inbox.send(Command::Close).is_ok());
        assert_eq!(count.0.load(Ordering::Relaxed), 1);
        assert_eq!(inbox.close().len(), 1);
        assert!(inbox.send(Command::Close).is_err());
        let mut none = Vec::new();
        assert!(inbox.poll_take(&mut cx, &mut none).is_pending());
        assert!(none.is_empty());
    }
}
