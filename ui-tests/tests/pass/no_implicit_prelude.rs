//! Hygiene: the derive's expansion must name everything by absolute path, so
//! it compiles in a `#[no_implicit_prelude]` module.
#[no_implicit_prelude]
mod wire_types {
    #[derive(::zerowire::Wire)]
    pub struct Reading {
        pub device: u32,
        pub ok: bool,
        pub label: ::std::string::String,
        pub samples: ::std::vec::Vec<u16>,
        pub note: ::std::option::Option<::std::string::String>,
        pub mode: Mode,
    }

    #[derive(::zerowire::Wire, ::core::clone::Clone, ::core::marker::Copy)]
    pub enum Mode {
        Idle,
        Run,
    }

    #[derive(::zerowire::Wire)]
    pub enum Shape {
        Circle(u32),
        Rect { w: u16, h: u16 },
        Named(::std::string::String),
        Empty,
    }

    #[derive(::zerowire::Wire)]
    pub struct Pair<T>(pub u8, pub T);

    #[derive(::zerowire::Wire)]
    pub struct Borrowed<'a> {
        pub name: &'a str,
        pub blob: &'a [u8],
    }

    #[derive(::zerowire::Wire)]
    pub struct Unit;

    #[derive(::zerowire::Wire)]
    pub enum Either<A, B> {
        Left(A),
        Right { value: B },
        Neither,
    }

    #[derive(::zerowire::Wire)]
    pub enum Text<'a> {
        Borrowed(&'a str),
        Code(u8),
    }
}

fn main() {
    use ::zerowire::Wire as _;
    let r = wire_types::Reading {
        device: 1,
        ok: true,
        label: ::std::string::String::from("x"),
        samples: ::std::vec![1, 2],
        note: ::std::option::Option::None,
        mode: wire_types::Mode::Run,
    };
    let bytes = r.encode_to_vec();
    let _ = <wire_types::Reading as ::zerowire::Wire>::decode(&bytes);
    let s = wire_types::Shape::Rect { w: 1, h: 2 };
    let _ = <wire_types::Shape as ::zerowire::Wire>::decode(&s.encode_to_vec());
    let p = wire_types::Pair(1, 2u16);
    let _ = <wire_types::Pair<u16> as ::zerowire::Wire>::decode(&p.encode_to_vec());
    let b = wire_types::Borrowed { name: "n", blob: &[1] };
    let bytes = b.encode_to_vec();
    let _ = <wire_types::Borrowed<'_> as ::zerowire::Wire>::decode(&bytes);
    let _ = <wire_types::Unit as ::zerowire::Wire>::decode(&[]);
    let e: wire_types::Either<u8, u16> = wire_types::Either::Right { value: 7 };
    let _ = <wire_types::Either<u8, u16> as ::zerowire::Wire>::decode(&e.encode_to_vec());
    let t = wire_types::Text::Borrowed("t");
    let bytes = t.encode_to_vec();
    let _ = <wire_types::Text<'_> as ::zerowire::Wire>::decode(&bytes);
}
