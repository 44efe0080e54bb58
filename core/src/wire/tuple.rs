//! Tuples, encoded like tuple structs: every element's fixed block in order,
//! then every element's tail in order. RPC arguments travel as tuples.

use super::error::DecodeError;
use super::{Fingerprint, FromView, Reader, Wire, Writer};

macro_rules! tuple_wire {
    ($fixed:ident; $($t:ident $i:tt $f:ident),+) => {
        /// The fixed block of a tuple: its elements' fixed blocks in order.
        #[derive(zerocopy::FromBytes, zerocopy::KnownLayout, zerocopy::Immutable, zerocopy::Unaligned)]
        #[repr(C)]
        #[allow(non_snake_case)]
        pub struct $fixed<$($t),+> {
            $(
                #[allow(missing_docs)]
                pub $f: $t,
            )+
        }

        impl<$($t: Wire),+> Wire for ($($t,)+) {
            type Fixed = $fixed<$($t::Fixed),+>;
            type Tail<'a> = ($($t::Tail<'a>,)+);
            type View<'a> = ($($t::View<'a>,)+);
            const HAS_TAIL: bool = false $(|| $t::HAS_TAIL)+;
            const CHECKS_FIXED: bool = false $(|| $t::CHECKS_FIXED)+;
            const MIN_LEN: usize = 0usize $(.saturating_add($t::MIN_LEN))+;
            const MAX_LEN: Option<usize> = {
                let m = Some(0usize);
                $(let m = crate::__private::max_add(m, $t::MAX_LEN);)+
                m
            };
            const FINGERPRINT: u64 = {
                let h = Fingerprint::new("tuple").u64([$($i),+].len() as u64);
                $(let h = h.u64($t::FINGERPRINT);)+
                h.finish()
            };

            #[inline]
            fn encode_fixed(&self, w: &mut Writer<'_>) {
                $(self.$i.encode_fixed(w);)+
            }
            #[inline]
            fn tail_len(&self) -> usize {
                0usize $(.saturating_add(self.$i.tail_len()))+
            }
            #[inline]
            fn encode_tail(&self, w: &mut Writer<'_>) {
                $(self.$i.encode_tail(w);)+
            }
            #[inline]
            fn verbatim(&self) -> Option<&[u8]> {
                let run = None;
                $(let run = crate::__private::longer(run, self.$i.verbatim());)+
                run
            }
            #[inline]
            fn decode_tail<'a>(fixed: &'a Self::Fixed, at: usize, r: &mut Reader<'a>) -> Result<Self::Tail<'a>, DecodeError> {
                let at_field = at;
                Ok(($({
                    let t = $t::decode_tail(&fixed.$f, at_field, r)?;
                    #[allow(unused_variables)]
                    let at_field = at_field.saturating_add($t::FIXED_LEN);
                    t
                },)+))
            }
            #[inline]
            fn view<'a>(fixed: &'a Self::Fixed, tail: Self::Tail<'a>) -> Self::View<'a> {
                ($($t::view(&fixed.$f, tail.$i),)+)
            }
        }

        impl<'de, $($t: FromView<'de>),+> FromView<'de> for ($($t,)+) {
            #[inline]
            fn from_view(view: Self::View<'de>) -> Self {
                ($($t::from_view(view.$i),)+)
            }
        }
    };
}

tuple_wire!(Tuple1; A 0 a);
tuple_wire!(Tuple2; A 0 a, B 1 b);
tuple_wire!(Tuple3; A 0 a, B 1 b, C 2 c);
tuple_wire!(Tuple4; A 0 a, B 1 b, C 2 c, D 3 d);
tuple_wire!(Tuple5; A 0 a, B 1 b, C 2 c, D 3 d, E 4 e);
tuple_wire!(Tuple6; A 0 a, B 1 b, C 2 c, D 3 d, E 4 e, F 5 f);
tuple_wire!(Tuple7; A 0 a, B 1 b, C 2 c, D 3 d, E 4 e, F 5 f, G 6 g);
tuple_wire!(Tuple8; A 0 a, B 1 b, C 2 c, D 3 d, E 4 e, F 5 f, G 6 g, H 7 h);
