//! Two smoltcp stacks in one process, joined by in-memory queues, on a
//! virtual clock: deterministic, no sleeps, no OS sockets.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use smoltcp::iface::{Config, Interface, PollResult, SocketHandle, SocketSet, SocketStorage};
use smoltcp::phy::{Device, DeviceCapabilities, Medium, RxToken, TxToken};
use smoltcp::socket::tcp;
use smoltcp::time::Instant as NetInstant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};

type Queue = Rc<RefCell<VecDeque<Vec<u8>>>>;

/// One end of an in-memory IP link.
pub struct Link {
    rx: Queue,
    tx: Queue,
    /// Frames to drop (counting down) before delivering again; for loss.
    pub drop_next: usize,
}

/// Two link ends joined back to back.
pub fn link_pair() -> (Link, Link) {
    let a: Queue = Rc::default();
    let b: Queue = Rc::default();
    (
        Link {
            rx: a.clone(),
            tx: b.clone(),
            drop_next: 0,
        },
        Link {
            rx: b,
            tx: a,
            drop_next: 0,
        },
    )
}

pub struct Rx(Vec<u8>);
pub struct Tx<'a>(&'a Link);

impl RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = vec![0; len];
        let r = f(&mut frame);
        self.0.tx.borrow_mut().push_back(frame);
        r
    }
}

impl Device for Link {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _: NetInstant) -> Option<(Rx, Tx<'_>)> {
        loop {
            let frame = self.rx.borrow_mut().pop_front()?;
            if self.drop_next > 0 {
                self.drop_next -= 1;
                continue;
            }
            return Some((Rx(frame), Tx(self)));
        }
    }

    fn transmit(&mut self, _: NetInstant) -> Option<Tx<'_>> {
        Some(Tx(self))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = 1500;
        caps
    }
}

/// A hosted network stack: an interface on one end of a link and its
/// sockets (leaked storage: each test builds a few).
pub struct Stack {
    pub iface: Interface,
    pub link: Link,
    pub sockets: SocketSet<'static>,
    pub addr: IpAddress,
}

impl Stack {
    pub fn new(mut link: Link, addr: [u8; 4], now: NetInstant) -> Self {
        let mut config = Config::new(HardwareAddress::Ip);
        config.random_seed = u64::from(addr[3]);
        let mut iface = Interface::new(config, &mut link, now);
        let addr = IpAddress::v4(addr[0], addr[1], addr[2], addr[3]);
        iface.update_ip_addrs(|a| a.push(IpCidr::new(addr, 24)).unwrap());
        let storage: &'static mut [SocketStorage<'static>] =
            Box::leak(Box::new([SocketStorage::EMPTY; 8]));
        Self {
            iface,
            link,
            sockets: SocketSet::new(storage),
            addr,
        }
    }

    /// Adds a TCP socket with `size`-byte buffers each way.
    pub fn add_tcp(&mut self, size: usize) -> SocketHandle {
        let rx = Box::leak(vec![0u8; size].into_boxed_slice());
        let tx = Box::leak(vec![0u8; size].into_boxed_slice());
        let mut s = tcp::Socket::new(tcp::SocketBuffer::new(rx), tcp::SocketBuffer::new(tx));
        s.set_nagle_enabled(false);
        self.sockets.add(s)
    }

    /// A new TCP socket (`size`-byte buffers) connecting from `local_port`
    /// to `remote`.
    pub fn connect(
        &mut self,
        size: usize,
        remote: (IpAddress, u16),
        local_port: u16,
    ) -> SocketHandle {
        let h = self.add_tcp(size);
        let cx = self.iface.context();
        self.sockets
            .get_mut::<tcp::Socket<'static>>(h)
            .connect(cx, remote, local_port)
            .unwrap();
        h
    }

    pub fn tcp(&mut self, h: SocketHandle) -> &mut tcp::Socket<'static> {
        self.sockets.get_mut::<tcp::Socket<'static>>(h)
    }

    /// Polls until the stack has nothing more to do at `now`; true if it
    /// moved any packet.
    pub fn poll(&mut self, now: NetInstant) -> bool {
        let mut any = false;
        for _ in 0..64 {
            match self.iface.poll(now, &mut self.link, &mut self.sockets) {
                PollResult::None => break,
                PollResult::SocketStateChanged => any = true,
            }
        }
        any
    }

    pub fn pending_frames(&self) -> usize {
        self.link.rx.borrow().len()
    }
}
