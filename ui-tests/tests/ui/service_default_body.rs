// Handlers are implemented in the `impl`, not in the trait.
#[zerowire::service]
pub trait Calc {
    fn zero(&self) -> u32 {
        0
    }
}

fn main() {}
