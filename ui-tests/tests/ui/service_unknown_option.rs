// The attribute takes only `local`.
#[zerowire::service(threads = 4)]
pub trait Calc {
    fn get(&self) -> u32;
}

fn main() {}
