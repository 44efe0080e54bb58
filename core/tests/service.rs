//! `#[zerowire::service]` end to end without a transport: an in-process
//! `Caller` encodes the arguments, dispatches through the generated
//! `Service`, encodes the reply and decodes it, exactly as a transport does
//! around the protocol state machine.

// Test-only public items (a service trait must be nameable by its generated
// types); they need no docs.
#![allow(missing_docs)]

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use zerowire::proto::MethodDesc;
use zerowire::rpc::{BlockingCaller, CallError, CallOptions, Caller, ErrorText, Refusal, Service};
use zerowire::{Encode, FromView, Wire};

#[derive(Wire, Debug, Clone, PartialEq)]
pub enum MathError {
    DivideByZero,
    Overflow { a: i32, b: i32 },
}

/// A user alias named `Result` must not confuse the macro.
#[allow(dead_code)]
type Result<T> = std::result::Result<T, String>;

#[zerowire::service]
pub trait Calc {
    /// Adds three numbers.
    async fn add3(&self, a: u32, b: u32, c: u32) -> u32;
    async fn div(&self, a: i32, b: i32) -> std::result::Result<i32, MathError>;
    fn reset(&self);
    fn count(&self) -> u32;
    async fn greet(&self, name: String, times: u8) -> Vec<String>;
}

#[derive(Default)]
struct Calculator {
    calls: AtomicU32,
}

impl Calc for Calculator {
    async fn add3(&self, a: u32, b: u32, c: u32) -> u32 {
        self.calls.fetch_add(1, Ordering::Relaxed);
        a + b + c
    }
    async fn div(&self, a: i32, b: i32) -> std::result::Result<i32, MathError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if b == 0 {
            return Err(MathError::DivideByZero);
        }
        a.checked_div(b).ok_or(MathError::Overflow { a, b })
    }
    fn reset(&self) {
        self.calls.store(0, Ordering::Relaxed);
    }
    fn count(&self) -> u32 {
        self.calls.load(Ordering::Relaxed)
    }
    async fn greet(&self, name: String, times: u8) -> Vec<String> {
        (0..times).map(|i| format!("{i}: hello {name}")).collect()
    }
}

/// The minimal transport: in-process, through the encoded bytes.
struct Direct<S> {
    service: Arc<S>,
}

impl<S> Clone for Direct<S> {
    fn clone(&self) -> Self {
        Self {
            service: self.service.clone(),
        }
    }
}

impl<S: Service<()>> Direct<S> {
    async fn round_trip<A: Wire, R: for<'de> FromView<'de>>(
        &self,
        method: &'static MethodDesc,
        args: A,
    ) -> std::result::Result<R, CallError> {
        let svc = &self.service;
        let index = (0..svc.method_count())
            .find(|&i| svc.method(i).is_some_and(|m| m.id == method.id))
            .ok_or(CallError::UnknownMethod {
                method: method.name,
            })?;
        if svc.method(index).map(|m| m.fingerprint) != Some(method.fingerprint) {
            return Err(CallError::SchemaMismatch {
                method: method.name,
            });
        }
        let body = args.encode_to_vec();
        let reply = svc
            .call(&(), index as u16, &body)
            .await
            .map_err(|r| match r {
                Refusal::BadRequest(e) => CallError::BadRequest(ErrorText::new(&e.to_string())),
                _ => CallError::UnknownMethod {
                    method: method.name,
                },
            })?;
        let mut out = vec![0u8; reply.encoded_len()];
        reply.encode(&mut out).unwrap();
        R::decode(&out).map_err(CallError::BadResponse)
    }
}

impl<S: Service<()>> Caller for Direct<S> {
    fn call<A, R>(
        &self,
        method: &'static MethodDesc,
        args: A,
        _: CallOptions,
    ) -> impl Future<Output = std::result::Result<R, CallError>> + Send
    where
        A: Wire + Send + 'static,
        R: for<'de> FromView<'de> + Send + 'static,
    {
        let this = self.clone();
        async move { this.round_trip(method, args).await }
    }

    fn notify<A>(
        &self,
        method: &'static MethodDesc,
        args: A,
    ) -> impl Future<Output = std::result::Result<(), CallError>> + Send
    where
        A: Wire + Send + 'static,
    {
        let this = self.clone();
        async move { this.round_trip::<A, ()>(method, args).await }
    }
}

impl<S: Service<()>> BlockingCaller for Direct<S> {
    fn call_blocking<A, R>(
        &self,
        method: &'static MethodDesc,
        args: A,
        options: CallOptions,
    ) -> std::result::Result<R, CallError>
    where
        A: Wire + Send + 'static,
        R: for<'de> FromView<'de> + Send + 'static,
    {
        block_on(Caller::call(self, method, args, options))
    }

    fn notify_blocking<A>(
        &self,
        method: &'static MethodDesc,
        args: A,
    ) -> std::result::Result<(), CallError>
    where
        A: Wire + Send + 'static,
    {
        block_on(Caller::notify(self, method, args))
    }
}

struct ThreadWaker(std::thread::Thread);
impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

fn block_on<F: Future>(f: F) -> F::Output {
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

fn client() -> CalcClient<Direct<CalcService<Calculator>>> {
    CalcClient::new(Direct {
        service: Arc::new(CalcService::new(Calculator::default())),
    })
}

#[test]
fn calls_typed_results_and_typed_errors() {
    let c = client();
    block_on(async {
        assert_eq!(c.add3(1, 2, 3).await, Ok(6));
        assert_eq!(c.div(7, 2).await, Ok(3));
        assert_eq!(
            c.div(1, 0).await,
            Err(CallError::Remote(MathError::DivideByZero))
        );
        assert_eq!(
            c.div(i32::MIN, -1).await,
            Err(CallError::Remote(MathError::Overflow {
                a: i32::MIN,
                b: -1
            }))
        );
        assert_eq!(c.count().await, Ok(4));
        assert_eq!(c.reset().await, Ok(()));
        assert_eq!(c.count().await, Ok(0));
        assert_eq!(
            c.greet("zw".into(), 2).await.unwrap(),
            vec!["0: hello zw", "1: hello zw"]
        );
    });
}

#[test]
fn blocking_client_mirrors_the_async_one() {
    let svc = Arc::new(CalcService::new(Calculator::default()));
    let c = CalcBlockingClient::new(Direct { service: svc });
    assert_eq!(c.add3(1, 1, 1), Ok(3));
    assert_eq!(c.div(1, 0), Err(CallError::Remote(MathError::DivideByZero)));
}

#[test]
fn method_table_and_fingerprints() {
    let methods = CalcService::<Calculator>::methods();
    let names: Vec<_> = methods.iter().map(|m| m.name).collect();
    assert_eq!(names, ["add3", "div", "reset", "count", "greet"]);
    assert!(methods.iter().all(|m| m.service == "Calc"));
    // The signature fingerprint covers arguments and result.
    assert_eq!(
        methods[0].fingerprint,
        zerowire::proto::signature_fingerprint(
            <(u32, u32, u32) as Wire>::FINGERPRINT,
            <u32 as Wire>::FINGERPRINT
        )
    );
}

#[test]
fn plain_fn_handlers_run_without_an_executor() {
    let svc = CalcService::new(Calculator::default());
    let reply = svc.call_sync(&(), 3, &().encode_to_vec()).unwrap();
    let mut out = vec![0u8; reply.encoded_len()];
    reply.encode(&mut out).unwrap();
    assert_eq!(u32::decode(&out), Ok(0));
    assert!(matches!(
        svc.call_sync(&(), 0, &(1u32, 2u32, 3u32).encode_to_vec()),
        Err(Refusal::NeedsExecutor)
    ));
    // A body that does not decode is refused alone, with the decode error.
    assert!(matches!(
        svc.call_sync(&(), 3, &[1]),
        Err(Refusal::BadRequest(_))
    ));
    assert!(matches!(
        svc.call_sync(&(), 99, &[]),
        Err(Refusal::UnknownMethod)
    ));
}

/// Two services on one connection, and a context-taking handler.
#[zerowire::service]
pub trait Device {
    fn id(&self, cx: &Ctx) -> u32;
}

pub struct Ctx {
    pub peer: u32,
}

struct Dev;
impl Device for Dev {
    fn id(&self, cx: &Ctx) -> u32 {
        cx.peer * 10
    }
}

#[test]
fn two_services_and_context() {
    let both = (
        DeviceService::new(Dev),
        CalcService::new(Calculator::default()),
    );
    assert_eq!(Service::<Ctx>::method_count(&both), 6);
    assert_eq!(Service::<Ctx>::method(&both, 1).unwrap().name, "add3");
    let cx = Ctx { peer: 4 };
    let reply = Service::<Ctx>::call_sync(&both, &cx, 0, &().encode_to_vec()).unwrap();
    let mut out = vec![0u8; reply.encoded_len()];
    reply.encode(&mut out).unwrap();
    assert_eq!(u32::decode(&out), Ok(40));
    let reply = block_on(Service::<Ctx>::call(
        &both,
        &cx,
        1,
        &(1u32, 2u32, 3u32).encode_to_vec(),
    ))
    .unwrap();
    let mut out = vec![0u8; reply.encoded_len()];
    reply.encode(&mut out).unwrap();
    assert_eq!(u32::decode(&out), Ok(6));
}
