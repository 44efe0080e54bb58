use zerowire::Wire;

#[derive(Wire)]
struct Header {
    version: u8,
    fixed_block: u32,
}

fn main() {}
