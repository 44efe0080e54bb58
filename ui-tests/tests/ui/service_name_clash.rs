// `new` would clash with the generated client's constructor.
#[zerowire::service]
pub trait Factory {
    fn new(&self) -> u32;
}

fn main() {}
