use zerowire::Wire;

#[derive(Wire)]
enum Event {
    Tick(u32),
    Wait { id: u32, timeout: std::time::Duration },
}

fn main() {}
