// A method's wire types must be fixed: generic methods are rejected.
#[zerowire::service]
pub trait Store {
    fn put<T>(&self, value: T);
}

fn main() {}
