//! What both footprint images share: a NIC, a smoltcp interface with one TCP
//! socket listening on port 7, the poll loop and the panic handler. The
//! images differ only in the [`App`] that handles the socket's bytes.
//!
//! The NIC is a stand-in for a real MAC driver: it "receives" the frame held
//! in a static buffer and "transmits" into another, both through
//! [`black_box`], so the compiler cannot prove that no packet ever arrives
//! and drop the code that handles one. The images are built to be measured
//! with `llvm-size`, not run.
#![no_std]

use core::hint::black_box;

use cortex_m::singleton;
use smoltcp::iface::{Config, Interface, SocketSet, SocketStorage};
use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr};

/// The port both images listen on.
pub const PORT: u16 = 7;
/// Largest Ethernet frame.
const MTU: usize = 1514;
/// TCP socket buffer sizes (each way).
const SOCKET_BUFFER: usize = 1024;

/// What an image does with the socket on each pass of the loop.
pub trait App {
    /// `socket` is open or listening; `now_ms` counts loop passes.
    fn poll(&mut self, socket: &mut tcp::Socket<'_>, now_ms: u64);
}

/// The stand-in NIC: one receive and one transmit frame buffer.
pub struct Nic {
    rx: [u8; MTU],
    rx_len: usize,
    tx: [u8; MTU],
}

/// A received frame.
pub struct RxToken<'a>(&'a [u8]);

/// A frame to transmit.
pub struct TxToken<'a>(&'a mut [u8]);

impl phy::RxToken for RxToken<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(black_box(self.0))
    }
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let len = len.min(self.0.len());
        let r = f(&mut self.0[..len]);
        black_box(&self.0[..len]);
        r
    }
}

impl phy::Device for Nic {
    type RxToken<'a> = RxToken<'a>;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _: Instant) -> Option<(RxToken<'_>, TxToken<'_>)> {
        let len = black_box(self.rx_len).min(MTU);
        if len == 0 {
            return None;
        }
        self.rx_len = 0;
        Some((RxToken(&self.rx[..len]), TxToken(&mut self.tx)))
    }

    fn transmit(&mut self, _: Instant) -> Option<TxToken<'_>> {
        Some(TxToken(&mut self.tx))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = MTU;
        caps.max_burst_size = Some(1);
        caps
    }
}

/// Stops for good (used where a real firmware would reset).
pub fn halt() -> ! {
    cortex_m::asm::udf()
}

/// Sets up the interface and the socket (all storage static) and runs `app`
/// forever.
pub fn run<A: App>(app: &mut A) -> ! {
    let Some(nic) = singleton!(: Nic = Nic { rx: [0; MTU], rx_len: 0, tx: [0; MTU] }) else {
        halt()
    };
    let Some(storage) = singleton!(: [SocketStorage<'static>; 1] = [SocketStorage::EMPTY]) else {
        halt()
    };
    let Some(rx) = singleton!(: [u8; SOCKET_BUFFER] = [0; SOCKET_BUFFER]) else {
        halt()
    };
    let Some(tx) = singleton!(: [u8; SOCKET_BUFFER] = [0; SOCKET_BUFFER]) else {
        halt()
    };
    let mac = EthernetAddress([0x02, 0, 0, 0, 0, 0x01]);
    let mut iface = Interface::new(
        Config::new(HardwareAddress::Ethernet(mac)),
        nic,
        Instant::from_millis(0),
    );
    iface.update_ip_addrs(|addrs| {
        let _ = addrs.push(IpCidr::new(IpAddress::v4(10, 0, 2, 15), 24));
    });
    let mut sockets = SocketSet::new(&mut storage[..]);
    let handle = sockets.add(tcp::Socket::new(
        tcp::SocketBuffer::new(&mut rx[..]),
        tcp::SocketBuffer::new(&mut tx[..]),
    ));
    let mut now_ms: u64 = 0;
    loop {
        now_ms = now_ms.wrapping_add(1);
        let now = Instant::from_millis(i64::try_from(now_ms).unwrap_or(i64::MAX));
        iface.poll(now, nic, &mut sockets);
        let socket = sockets.get_mut::<tcp::Socket>(handle);
        if !socket.is_open() {
            let _ = socket.listen(PORT);
        }
        app.poll(socket, now_ms);
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    halt()
}
