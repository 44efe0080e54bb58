use zerowire::Wire;

#[derive(Wire)]
struct Delta {
    dx: isize,
}

fn main() {}
