//! Footprint baseline: a raw echo on the shared socket.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use footprint::{run, App};
use smoltcp::socket::tcp;

/// Sends back whatever arrives.
struct Echo;

impl App for Echo {
    fn poll(&mut self, socket: &mut tcp::Socket<'_>, _now_ms: u64) {
        let mut buf = [0u8; 64];
        while socket.can_recv() && socket.can_send() {
            let room = socket.send_capacity() - socket.send_queue();
            let want = room.min(buf.len());
            match socket.recv_slice(&mut buf[..want]) {
                Ok(n) if n > 0 => {
                    let _ = socket.send_slice(&buf[..n]);
                }
                _ => break,
            }
        }
    }
}

#[entry]
fn main() -> ! {
    run(&mut Echo)
}
