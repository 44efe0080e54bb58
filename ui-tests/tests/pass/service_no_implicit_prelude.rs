// The service macro's expansion names everything by absolute path.
#![no_implicit_prelude]

mod api {
    #[::zerowire::service]
    pub trait Calc {
        async fn add3(&self, a: u32, b: u32, c: u32) -> u32;
        fn name(&self) -> ::std::string::String;
        async fn div(&self, a: i32, b: i32) -> ::core::result::Result<i32, u8>;
    }
}

fn main() {}
