// Both ends must agree on every method's types: generic services are rejected.
#[zerowire::service]
pub trait Store<T> {
    fn get(&self) -> u32;
}

fn main() {}
