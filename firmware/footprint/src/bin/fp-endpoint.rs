//! Footprint image: the same 3-method service and limits as `fp-rpc`
//! (max_frame 512, 4 calls in flight), served through the
//! `zerowire-embedded` driver: an `Endpoint` polled with the shared smoltcp
//! socket. The endpoint also carries the driver's no-alloc client (16 bytes
//! of reply storage per call), which this image does not use.
#![no_std]
#![no_main]

#[path = "../sensor.rs"]
mod sensor;

use cortex_m::singleton;
use cortex_m_rt::entry;
use footprint::{halt, run, App};
use smoltcp::socket::tcp;
use zerowire::proto::{Config, Instant, Role};
use zerowire_embedded::Endpoint;

use sensor::{Node, SensorService};

/// `RX`/`TX` 512 (so `max_frame` 512), 4 calls each way, 3 methods, 16
/// bytes of reply storage per outgoing call.
type Ep = Endpoint<'static, 512, 512, 4, 3, 16>;

struct Driven {
    endpoint: &'static mut Ep,
    service: SensorService<Node>,
}

impl App for Driven {
    fn poll(&mut self, socket: &mut tcp::Socket<'_>, now_ms: u64) {
        self.service.0.now_ms.set(now_ms);
        let now = Instant::from_micros(now_ms.saturating_mul(1000));
        let _ = self.endpoint.poll(now, socket, &self.service);
    }
}

#[entry]
fn main() -> ! {
    let config = Config {
        max_frame: 512,
        max_calls: 4,
        send_high_water: 256,
        ..Config::default()
    };
    let Some(endpoint) =
        singleton!(: Ep = Endpoint::new(config, Role::Acceptor, SensorService::<Node>::methods()))
    else {
        halt()
    };
    let mut app = Driven {
        endpoint,
        service: SensorService::new(Node::new()),
    };
    run(&mut app)
}
