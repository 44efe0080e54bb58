use zerowire::Wire;

#[derive(Wire)]
struct Config {
    #[wire(skip)]
    cache: u32,
}

fn main() {}
