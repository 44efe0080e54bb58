use zerowire::Wire;

#[derive(Wire)]
struct Packet {
    id: u32,
    len: usize,
}

fn main() {}
