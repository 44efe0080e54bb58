use zerowire::Wire;

#[derive(Wire)]
enum Never {}

fn main() {}
