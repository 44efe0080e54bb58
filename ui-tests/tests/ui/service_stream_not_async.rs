use zerowire::rpc::Sink;

#[zerowire::service]
trait Camera {
    fn frames(&self, fps: u32, out: Sink<u32>) -> u32;
}

fn main() {}
