// Handler futures must be `Send` (multi-threaded runtimes): holding an `Rc`
// across an `.await` is rejected at the implementation. `#[service(local)]`
// is the opt-out.
use std::rc::Rc;

#[zerowire::service]
pub trait Calc {
    async fn add(&self, a: u32) -> u32;
}

struct Impl;

impl Calc for Impl {
    async fn add(&self, a: u32) -> u32 {
        let shared = Rc::new(a);
        std::future::ready(()).await;
        *shared + 1
    }
}

fn main() {}
