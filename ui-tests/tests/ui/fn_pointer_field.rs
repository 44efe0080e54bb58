use zerowire::Wire;

#[derive(Wire)]
struct Callback {
    on_done: fn(u32) -> u32,
}

fn main() {}
