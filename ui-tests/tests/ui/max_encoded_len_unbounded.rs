use zerowire::Wire;

#[derive(Wire)]
struct Message {
    id: u32,
    text: String,
}

fn main() {
    let _buf = [0u8; Message::MAX_ENCODED_LEN];
}
