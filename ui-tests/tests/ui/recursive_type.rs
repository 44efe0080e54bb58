use zerowire::Wire;

#[derive(Wire)]
struct Node {
    value: u32,
    children: Vec<Node>,
}

fn main() {}
