//! Footprint image: a `StaticConnection` (max_frame 512, 4 calls in flight)
//! serving a 3-method `#[zerowire::service]` on the shared socket.
//!
//! The loop drives `zerowire::proto::Connection` directly (read into
//! `recv_buffer`, `handle_received`, `poll_event`, the generated
//! `call_sync`, `reply`, `poll_transmit`/`advance_transmit`,
//! `handle_timeout`); it can move to the `zerowire-embedded` driver once
//! that lands.
#![no_std]
#![no_main]

#[path = "../sensor.rs"]
mod sensor;

use cortex_m::singleton;
use cortex_m_rt::entry;
use footprint::{halt, run, App};
use smoltcp::socket::tcp;
use zerowire::proto::{ArrayTables, Config, ErrorCode, Event, Instant, Role, StaticConnection};
use zerowire::rpc::{LocalService, Refusal};

use sensor::{Node, SensorService};

/// `max_frame` 512 (receive and send buffers of 512 bytes), 4 calls in
/// flight each way, 3 methods.
type Conn = StaticConnection<'static, 512, 512, 4, 3>;

fn config() -> Config {
    Config {
        max_frame: 512,
        max_calls: 4,
        ..Config::default()
    }
}

fn connection(now: Instant) -> Conn {
    StaticConnection::new(
        config(),
        Role::Acceptor,
        SensorService::<Node>::methods(),
        [0; 512],
        [0; 512],
        ArrayTables::new(),
        now,
    )
}

struct Rpc {
    conn: &'static mut Conn,
    service: SensorService<Node>,
    /// Whether `conn` has served the current TCP connection.
    used: bool,
}

impl App for Rpc {
    fn poll(&mut self, socket: &mut tcp::Socket<'_>, now_ms: u64) {
        let now = Instant::from_micros(now_ms.saturating_mul(1000));
        self.service.0.now_ms.set(now_ms);
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
        // 1. Bytes in.
        while conn.wants_read() && socket.can_recv() {
            match socket.recv_slice(conn.recv_buffer()) {
                Ok(n) if n > 0 => conn.handle_received(now, n),
                _ => break,
            }
        }
        if !socket.may_recv() {
            conn.handle_eof();
        }
        // 2. Events: serve calls.
        loop {
            let (call, result) = match conn.poll_event() {
                None => break,
                Some(Event::Call { call, method, body }) => {
                    (call, self.service.call_sync(&(), method, body))
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
        // 3. Bytes out.
        let out = conn.poll_transmit();
        if !out.is_empty() {
            if let Ok(n) = socket.send_slice(out) {
                conn.advance_transmit(n);
            }
        }
        // 4. Time.
        if conn.poll_timeout().is_some_and(|t| t <= now) {
            conn.handle_timeout(now);
        }
    }
}

#[entry]
fn main() -> ! {
    let Some(conn) = singleton!(: Conn = connection(Instant::from_micros(0))) else {
        halt()
    };
    let mut app = Rpc {
        conn,
        service: SensorService::new(Node::new()),
        used: false,
    };
    run(&mut app)
}
