use zerowire::rpc::Source;

#[zerowire::service(local)]
trait Uploads {
    async fn upload(&self, chunks: Source<u32>) -> u64;
}

fn main() {}
