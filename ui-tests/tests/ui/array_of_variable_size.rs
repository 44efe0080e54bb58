use zerowire::Wire;

#[derive(Wire)]
struct Names {
    pair: [String; 2],
}

fn main() {
    let n = Names { pair: [String::new(), String::new()] };
    let _ = n.encode_to_vec();
}
