use zerowire::Wire;

#[derive(Wire)]
struct Timed {
    id: u32,
    timeout: std::time::Duration,
}

fn main() {}
