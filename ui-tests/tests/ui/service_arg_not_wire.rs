// An argument type without a wire encoding is reported at the argument.
#[zerowire::service]
pub trait Timer {
    fn arm(&self, after: std::time::Duration) -> bool;
}

fn main() {}
