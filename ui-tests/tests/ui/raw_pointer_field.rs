use zerowire::Wire;

#[derive(Wire)]
struct Handle {
    ptr: *const u8,
}

fn main() {}
