//! The stream backends handed to generated code: [`ItemSource`] receives a
//! stream's items from the driver, [`ItemSink`] passes a handler's items
//! to it.

use std::sync::Arc;
use std::task::{Context as TaskCx, Poll};

use bytes::Bytes;
use tokio::sync::mpsc;
use zerowire::rpc::{BoxFuture, CallError, Message, SinkBackend, SourceBackend};

use crate::peer::{Command, Shared};

/// One received stream item, or the error that ended the stream.
pub(crate) type Item = Result<Bytes, CallError>;

/// Items the driver has received for one stream. Taking one tells the
/// driver ([`Command::Took`]), which then gives the item's bytes back to
/// the sender's credit: a consumer that does not take items stops the
/// sender after one window.
pub(crate) struct ItemSource {
    rx: mpsc::UnboundedReceiver<Item>,
    shared: Arc<Shared>,
    token: u64,
}

impl ItemSource {
    pub(crate) fn new(rx: mpsc::UnboundedReceiver<Item>, shared: Arc<Shared>, token: u64) -> Self {
        Self { rx, shared, token }
    }
}

impl SourceBackend for ItemSource {
    /// The item as a vector: a copy when the driver keeps its buffer for
    /// recycling ([`Source`](zerowire::rpc::Source) takes
    /// [`poll_next_shared`](Self::poll_next_shared), which never copies).
    fn poll_next(&mut self, cx: &mut TaskCx<'_>) -> Poll<Option<Result<Vec<u8>, CallError>>> {
        self.poll_next_shared(cx)
            .map(|item| item.map(|bytes| bytes.map(Vec::from)))
    }

    fn poll_next_shared(&mut self, cx: &mut TaskCx<'_>) -> Poll<Option<Item>> {
        let item = std::task::ready!(self.rx.poll_recv(cx));
        if let Some(Ok(bytes)) = &item {
            // Fails only when the connection is gone, which ends the
            // stream anyway.
            let _ = self.shared.send(Command::Took(self.token, bytes.len()));
        }
        Poll::Ready(item)
    }
}

/// A handler's reply stream: items wait in a queue of one for the driver,
/// which takes them as the caller's credit and the send buffer allow.
pub(crate) struct ItemSink {
    tx: mpsc::Sender<Message>,
}

impl ItemSink {
    /// A sink and the receiver the driver pulls from.
    pub(crate) fn new() -> (Self, mpsc::Receiver<Message>) {
        let (tx, rx) = mpsc::channel(1);
        (Self { tx }, rx)
    }
}

impl SinkBackend for ItemSink {
    fn send(&mut self, message: Message) -> BoxFuture<'_, Result<(), CallError>> {
        Box::pin(async move {
            // The driver drops the receiver when the call ends: cancelled
            // by the caller, or the connection closed.
            self.tx
                .send(message)
                .await
                .map_err(|_| CallError::Cancelled)
        })
    }
}
