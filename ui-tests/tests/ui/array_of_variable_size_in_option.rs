// An array of a variable-size type is rejected even where only decoding
// (inside an `Option` or an enum variant) uses it.
use zerowire::Wire;

#[derive(Wire, Debug)]
struct Holder {
    names: Option<[String; 2]>,
}

fn main() {
    let _ = Holder::decode(&[0x01]);
}
