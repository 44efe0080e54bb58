use zerowire::rpc::Sink;

struct NotWire;

#[zerowire::service]
trait Camera {
    async fn frames(&self, out: Sink<NotWire>) -> u32;
}

fn main() {}
