//! The protocol state machine and `#[zerowire::service]`'s generated
//! dispatcher on the MCU, with no heap: two `StaticConnection`s (a "desktop"
//! caller and a "device" serving `Calc`) exchange frames through in-memory
//! buffers on a simulated clock.

use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, Waker};

use zerowire::proto::{ArrayTables, Config, Event, Failure, Instant, Role, StaticConnection};
use zerowire::rpc::{LocalService, Refusal};
use zerowire::{Encode, Wire};

use crate::Ctx;

/// A typed handler error.
#[derive(Wire, Debug, Clone, Copy, PartialEq)]
pub enum MathError {
    DivideByZero,
}

#[zerowire::service]
pub trait Calc {
    async fn add3(&self, a: u32, b: u32, c: u32) -> u32;
    async fn div(&self, a: i32, b: i32) -> Result<i32, MathError>;
    fn reset(&self);
}

struct Device;

impl Calc for Device {
    async fn add3(&self, a: u32, b: u32, c: u32) -> u32 {
        a + b + c
    }
    async fn div(&self, a: i32, b: i32) -> Result<i32, MathError> {
        a.checked_div(b).ok_or(MathError::DivideByZero)
    }
    fn reset(&self) {}
}

/// Checks made by [`run`].
pub const RPC_CHECKS: u32 = 6;

type Conn<'s> = StaticConnection<'s, 256, 256, 4, 4>;

/// Polls a handler future that completes without waiting (no executor).
fn poll_once<F: Future>(f: F) -> Option<F::Output> {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(f).poll(&mut cx) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

/// Moves every pending byte from `from` to `to`.
fn pump(from: &mut Conn<'_>, to: &mut Conn<'_>, now: Instant) {
    let mut tmp = [0u8; 256];
    let out = from.poll_transmit();
    let n = out.len().min(tmp.len());
    tmp[..n].copy_from_slice(&out[..n]);
    from.advance_transmit(n);
    let taken = to.handle_input(now, &tmp[..n]);
    debug_assert_eq!(taken, n);
}

/// The device answers every call it has received.
fn serve(device: &mut Conn<'_>, service: &CalcService<Device>) {
    let mut reply_to = None;
    let mut result = None;
    while let Some(event) = device.poll_event() {
        if let Event::Call { call, method, body } = event {
            let out = match service.call_sync(&(), method, body) {
                Err(Refusal::NeedsExecutor) => {
                    poll_once(LocalService::<()>::call(service, &(), method, body))
                }
                other => Some(other),
            };
            reply_to = Some(call);
            result = out.and_then(|r| r.ok());
            break;
        }
    }
    if let (Some(call), Some(reply)) = (reply_to, result) {
        let _ = device.reply(call, &reply);
    }
}

/// One call from the desktop to the device; the reply body decoded as `R`.
fn call<A: Wire, R: for<'de> zerowire::FromView<'de>>(
    desktop: &mut Conn<'_>,
    device: &mut Conn<'_>,
    service: &CalcService<Device>,
    method: usize,
    args: &A,
) -> Option<R> {
    let now = Instant::from_micros(1);
    let desc = &CalcService::<Device>::methods()[method];
    let id = desktop.call(now, desc, args, None).ok()?;
    pump(desktop, device, now);
    serve(device, service);
    pump(device, desktop, now);
    while let Some(event) = desktop.poll_event() {
        match event {
            Event::Reply { call, body } if call == id => return R::decode(body).ok(),
            Event::Failed {
                failure: Failure::Remote { .. },
                ..
            } => return None,
            _ => {}
        }
    }
    None
}

pub fn run(ctx: &mut Ctx) {
    let service = CalcService::new(Device);
    let served = CalcService::<Device>::methods();
    let now = Instant::from_micros(0);
    let mut desktop: Conn<'_> = StaticConnection::new(
        Config::default(),
        Role::Initiator,
        &[],
        [0; 256],
        [0; 256],
        ArrayTables::new(),
        now,
    );
    let mut device: Conn<'_> = StaticConnection::new(
        Config::default(),
        Role::Acceptor,
        served,
        [0; 256],
        [0; 256],
        ArrayTables::new(),
        now,
    );
    pump(&mut desktop, &mut device, now);
    pump(&mut device, &mut desktop, now);
    let mut connected = 0;
    while let Some(e) = desktop.poll_event() {
        connected += matches!(e, Event::Connected(_)) as u32;
    }
    while let Some(e) = device.poll_event() {
        connected += matches!(e, Event::Connected(_)) as u32;
    }
    ctx.check(
        connected == 2 && desktop.is_open() && device.is_open(),
        "rpc",
        "handshake",
    );

    let sum: Option<u32> = call(
        &mut desktop,
        &mut device,
        &service,
        0,
        &core::hint::black_box((1u32, 2u32, 3u32)),
    );
    ctx.check(sum == Some(6), "rpc", "add3(1, 2, 3) = 6");
    let ok: Option<Result<i32, MathError>> = call(
        &mut desktop,
        &mut device,
        &service,
        1,
        &core::hint::black_box((7i32, 2i32)),
    );
    ctx.check(ok == Some(Ok(3)), "rpc", "div(7, 2) = 3");
    let err: Option<Result<i32, MathError>> = call(
        &mut desktop,
        &mut device,
        &service,
        1,
        &core::hint::black_box((1i32, 0i32)),
    );
    ctx.check(
        err == Some(Err(MathError::DivideByZero)),
        "rpc",
        "div(1, 0) is a typed error",
    );
    let unit: Option<()> = call(&mut desktop, &mut device, &service, 2, &());
    ctx.check(unit == Some(()), "rpc", "reset() runs as a plain fn");
    ctx.check(
        desktop.calls_in_flight() == 0 && device.serving() == 0 && Encode::encoded_len(&6u32) == 4,
        "rpc",
        "every call id freed",
    );
}
