//! A fieldless enum that is not `Copy` (nor `Clone`, nor `Debug`) derives
//! `Wire`: its view is a new value built from the index byte, so no bound is
//! needed. Exercised as a field, in containers, in an array and through views.
use zerowire::Wire;

#[derive(Wire, PartialEq)]
enum Mode {
    Idle,
    Run,
}

#[derive(Wire)]
struct Status {
    mode: Mode,
    history: Vec<Mode>,
    last: Option<Mode>,
    pair: [Mode; 2],
}

fn main() {
    let s = Status {
        mode: Mode::Run,
        history: vec![Mode::Idle, Mode::Run],
        last: Some(Mode::Idle),
        pair: [Mode::Run, Mode::Idle],
    };
    let bytes = s.encode_to_vec();
    let view = Status::decode_view(&bytes).unwrap();
    assert!(view.mode() == Mode::Run);
    assert!(view.history().get(1) == Some(Mode::Run));
    let back = Status::decode(&bytes).unwrap();
    assert!(back.mode == Mode::Run && back.last == Some(Mode::Idle));
    assert!(back.pair == [Mode::Run, Mode::Idle]);
    assert!(Mode::decode(&[1]).unwrap() == Mode::Run);
}
