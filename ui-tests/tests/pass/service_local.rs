// `#[service(local)]`: handler futures need not be `Send`.
use std::rc::Rc;

#[zerowire::service(local)]
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

fn main() {
    let _ = CalcService::new(Impl);
}
