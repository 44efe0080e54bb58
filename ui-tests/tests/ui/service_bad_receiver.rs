// Handlers run concurrently: `&mut self` is rejected with the fix.
#[zerowire::service]
pub trait Counter {
    fn bump(&mut self) -> u32;
}

fn main() {}
