use zerowire::Wire;

#[derive(Wire)]
struct Job {
    task: Box<dyn Fn()>,
}

fn main() {}
