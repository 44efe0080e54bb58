//! zerowire on a real board: a NUCLEO-F429ZI (STM32F429ZI, Cortex-M4F, RMII
//! Ethernet PHY) serving the README's `Calc` service on 192.168.1.50:7878.
//!
//! - Ethernet: stm32-eth 0.8 (DMA rings in static RAM) as a smoltcp 0.12
//!   `Device`; a static IPv4 address, no DHCP.
//! - zerowire: one `StaticConnection` per TCP socket (`max_frame` 512, 4
//!   calls in flight), driven straight from the poll loop: read into
//!   `recv_buffer`, `handle_received`, `poll_event`, the generated
//!   dispatcher's `call_sync`, `reply`, `poll_transmit` / `advance_transmit`,
//!   `handle_timeout`. Two sockets listen on the port, because smoltcp has no
//!   accept backlog: a desktop that reconnects at once finds the second one
//!   listening while the first is still closing.
//! - Time: SysTick at 1 kHz. The loop busy-polls (no interrupts besides
//!   SysTick); a product would sleep on the Ethernet interrupt.
//!
//! No heap, no `unsafe` of its own, no logging. `README.md` next to this file says how
//! to flash it and call it from the desktop.
#![no_std]
#![no_main]
#![deny(unsafe_code)] // `singleton!` allows its own, inside cortex-m

use core::cell::Cell;
use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::singleton;
use cortex_m_rt::{entry, exception};
use fugit::RateExtU32;
use smoltcp::iface::{Config as IfaceConfig, Interface, SocketHandle, SocketSet, SocketStorage};
use smoltcp::socket::tcp;
use smoltcp::time::Instant as NetInstant;
use smoltcp::wire::{EthernetAddress, IpCidr, Ipv4Address, Ipv4Cidr};
use stm32_eth::dma::{RxRingEntry, TxRingEntry};
use stm32_eth::hal::gpio::GpioExt;
use stm32_eth::hal::rcc::RccExt;
use stm32_eth::stm32::{CorePeripherals, Peripherals};
use stm32_eth::{EthPins, Parts, PartsIn};
use zerowire::proto::{ArrayTables, Config, ErrorCode, Event, Instant, Role, StaticConnection};
use zerowire::rpc::{LocalService, Refusal};
use zerowire::Wire;

/// The board's address; change it (and [`PREFIX`]) for your network.
const IP: Ipv4Address = Ipv4Address::new(192, 168, 1, 50);
/// Network prefix length of [`IP`].
const PREFIX: u8 = 24;
/// The port `calc-server` uses too.
const PORT: u16 = 7878;
/// A locally administered MAC address.
const MAC: [u8; 6] = [0x02, 0x00, 0x5A, 0x57, 0x00, 0x01];
/// TCP sockets listening on [`PORT`], each with its own connection.
const SESSIONS: usize = 2;
/// TCP socket buffer size, each way.
const SOCKET_BUFFER: usize = 1024;

// ---------------------------------------------------------------------------
// The service: the same trait as `examples/src/calc.rs`, so the method ids
// and schema fingerprints match the desktop's `CalcClient`. Whether a
// handler is `async` is not part of the schema; here they are plain `fn`s,
// which need no executor.
// ---------------------------------------------------------------------------

/// Why a division failed.
#[derive(Wire, Debug, Clone, PartialEq, Eq)]
pub enum MathError {
    /// The divisor was zero.
    DivideByZero,
    /// The quotient does not fit in an `i32`.
    Overflow,
}

/// A calculator.
#[zerowire::service(local)]
pub trait Calc {
    /// `a + b + c` (wrapping).
    fn add3(&self, a: u32, b: u32, c: u32) -> u32;
    /// `a / b`, or why not.
    fn div(&self, a: i32, b: i32) -> Result<i32, MathError>;
    /// Resets the call counter.
    fn reset(&self);
    /// Calls served since the last reset.
    fn calls(&self) -> u64;
}

/// Counts its calls, like the desktop's `Calculator`.
struct Calculator {
    calls: Cell<u64>,
}

impl Calculator {
    fn count(&self) {
        self.calls.set(self.calls.get().wrapping_add(1));
    }
}

impl Calc for Calculator {
    fn add3(&self, a: u32, b: u32, c: u32) -> u32 {
        self.count();
        a.wrapping_add(b).wrapping_add(c)
    }

    fn div(&self, a: i32, b: i32) -> Result<i32, MathError> {
        self.count();
        match b {
            0 => Err(MathError::DivideByZero),
            _ => a.checked_div(b).ok_or(MathError::Overflow),
        }
    }

    fn reset(&self) {
        self.calls.set(0);
    }

    fn calls(&self) -> u64 {
        self.calls.get()
    }
}

// ---------------------------------------------------------------------------
// One zerowire connection per TCP socket.
// ---------------------------------------------------------------------------

/// `max_frame` 512, 4 calls in flight each way, the 4 methods of `Calc`.
type Conn = StaticConnection<'static, 512, 512, 4, 4>;

fn connection(now: Instant) -> Conn {
    StaticConnection::new(
        Config {
            max_frame: 512,
            max_calls: 4,
            build: "stm32f4-eth",
            ..Config::default()
        },
        Role::Acceptor,
        CalcService::<Calculator>::methods(),
        [0; 512],
        [0; 512],
        ArrayTables::new(),
        now,
    )
}

/// A TCP socket and the zerowire connection on it.
struct Session {
    socket: SocketHandle,
    conn: &'static mut Conn,
    /// Whether `conn` has served the current TCP connection.
    used: bool,
}

impl Session {
    /// One pass: bytes in, calls served, bytes out, timers.
    fn poll(
        &mut self,
        socket: &mut tcp::Socket<'_>,
        service: &CalcService<Calculator>,
        now: Instant,
    ) {
        if !socket.is_open() {
            let _ = socket.listen(PORT);
        }
        if !socket.is_active() {
            // Between TCP connections: a fresh connection for the next peer.
            if self.used {
                *self.conn = connection(now);
                self.used = false;
            }
            return;
        }
        self.used = true;
        let conn = &mut *self.conn;
        while conn.wants_read() && socket.can_recv() {
            match socket.recv_slice(conn.recv_buffer()) {
                Ok(n) if n > 0 => conn.handle_received(now, n),
                _ => break,
            }
        }
        if !socket.may_recv() {
            conn.handle_eof();
        }
        loop {
            let (call, result) = match conn.poll_event() {
                None => break,
                Some(Event::Call { call, method, body }) => {
                    (call, service.call_sync(&(), method, body))
                }
                Some(Event::Closed(_)) => {
                    socket.close();
                    break;
                }
                Some(_) => continue,
            };
            let _ = match result {
                Ok(reply) => conn.reply(call, &reply),
                Err(Refusal::BadRequest(_)) => conn.reply_error(call, ErrorCode::BadRequest, ""),
                Err(_) => conn.reply_error(call, ErrorCode::UnknownMethod, ""),
            };
        }
        let out = conn.poll_transmit();
        if !out.is_empty() {
            if let Ok(n) = socket.send_slice(out) {
                conn.advance_transmit(n);
            }
        }
        if conn.poll_timeout().is_some_and(|t| t <= now) {
            conn.handle_timeout(now);
        }
    }
}

// ---------------------------------------------------------------------------
// Board.
// ---------------------------------------------------------------------------

/// Milliseconds since start, counted by SysTick.
static MILLIS: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    MILLIS.fetch_add(1, Ordering::Relaxed);
}

/// Stops (a watchdog or a debugger takes it from here).
fn halt() -> ! {
    loop {
        cortex_m::asm::bkpt();
    }
}

#[entry]
fn main() -> ! {
    let (Some(p), Some(mut cp)) = (Peripherals::take(), CorePeripherals::take()) else {
        halt()
    };

    // 96 MHz from the ST-LINK's 8 MHz clock (HSE bypass on the Nucleo);
    // Ethernet needs HCLK of at least 25 MHz.
    let rcc = p.RCC.constrain();
    let clocks = rcc
        .cfgr
        .use_hse(8.MHz())
        .bypass_hse_oscillator()
        .sysclk(96.MHz())
        .hclk(96.MHz())
        .freeze();

    cp.SYST.set_clock_source(SystClkSource::Core);
    cp.SYST.set_reload(clocks.hclk().raw() / 1000 - 1);
    cp.SYST.clear_current();
    cp.SYST.enable_counter();
    cp.SYST.enable_interrupt();

    // RMII pins of the NUCLEO-F429ZI (LAN8742A PHY).
    let gpioa = p.GPIOA.split();
    let gpiob = p.GPIOB.split();
    let gpioc = p.GPIOC.split();
    let gpiog = p.GPIOG.split();
    let pins = EthPins {
        ref_clk: gpioa.pa1.into_floating_input(),
        crs: gpioa.pa7.into_floating_input(),
        tx_en: gpiog.pg11.into_floating_input(),
        tx_d0: gpiog.pg13.into_floating_input(),
        tx_d1: gpiob.pb13.into_floating_input(),
        rx_d0: gpioc.pc4.into_floating_input(),
        rx_d1: gpioc.pc5.into_floating_input(),
    };

    let (Some(rx_ring), Some(tx_ring)) = (
        singleton!(: [RxRingEntry; 4] = [RxRingEntry::INIT; 4]),
        singleton!(: [TxRingEntry; 4] = [TxRingEntry::INIT; 4]),
    ) else {
        halt()
    };
    let parts = PartsIn {
        mac: p.ETHERNET_MAC,
        mmc: p.ETHERNET_MMC,
        dma: p.ETHERNET_DMA,
    };
    let Ok(Parts { mut dma, .. }) =
        stm32_eth::new(parts, &mut rx_ring[..], &mut tx_ring[..], clocks, pins)
    else {
        halt()
    };

    let mut iface = Interface::new(
        IfaceConfig::new(EthernetAddress(MAC).into()),
        &mut dma,
        NetInstant::ZERO,
    );
    iface.update_ip_addrs(|addrs| {
        let _ = addrs.push(IpCidr::Ipv4(Ipv4Cidr::new(IP, PREFIX)));
    });

    let Some(storage) =
        singleton!(: [SocketStorage<'static>; SESSIONS] = [SocketStorage::EMPTY; SESSIONS])
    else {
        halt()
    };
    let mut sockets = SocketSet::new(&mut storage[..]);
    let (Some(buffers), Some(conns)) = (
        singleton!(: [[u8; SOCKET_BUFFER]; 2 * SESSIONS] = [[0; SOCKET_BUFFER]; 2 * SESSIONS]),
        singleton!(: [Conn; SESSIONS] = [connection(Instant::from_micros(0)), connection(Instant::from_micros(0))]),
    ) else {
        halt()
    };
    let mut buffers = buffers.chunks_exact_mut(2);
    let mut sessions = conns.each_mut().map(|conn| {
        let socket = match buffers.next() {
            Some([rx, tx]) => tcp::Socket::new(
                tcp::SocketBuffer::new(&mut rx[..]),
                tcp::SocketBuffer::new(&mut tx[..]),
            ),
            _ => halt(),
        };
        Session {
            socket: sockets.add(socket),
            conn,
            used: false,
        }
    });

    let service = CalcService::new(Calculator {
        calls: Cell::new(0),
    });
    loop {
        let ms = MILLIS.load(Ordering::Relaxed);
        iface.poll(
            NetInstant::from_millis(i64::from(ms)),
            &mut dma,
            &mut sockets,
        );
        let now = Instant::from_micros(u64::from(ms) * 1000);
        for session in &mut sessions {
            let socket = sockets.get_mut::<tcp::Socket>(session.socket);
            session.poll(socket, &service, now);
        }
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    halt()
}
