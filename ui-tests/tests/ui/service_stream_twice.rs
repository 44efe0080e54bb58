use zerowire::rpc::Sink;

#[zerowire::service]
trait Camera {
    async fn frames(&self, a: Sink<u32>, b: Sink<u64>) -> u32;
}

fn main() {}
