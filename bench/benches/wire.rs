//! Encode + decode round trips: zerowire against prost, bincode, postcard and
//! a hand-written zerocopy floor.
//!
//! `cargo bench -p zerowire-bench --bench wire`
//!
//! One group per message (`add3`, `tick`, `sensor256`), one function per
//! contender (`floor`, `zerowire_view`, `zerowire_owned`, `prost`, `bincode`,
//! `postcard`). The round trips themselves live in the library
//! (`zerowire_bench::{add3, tick, sensor}`) so `cargo test -p zerowire-bench`
//! checks the same code; `verify_all` runs again here before measuring.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use zerowire_bench::{
    add3, add3_value, sensor, sensor_value, tick, tick_value, verify_all, Add3Pb, SensorPb, TickPb,
    BUF_LEN,
};

fn wire(c: &mut Criterion) {
    // A broken encoder or decoder must not produce a fast number.
    verify_all();

    let mut buf = vec![0u8; BUF_LEN];
    let mut vbuf: Vec<u8> = Vec::with_capacity(BUF_LEN);

    {
        let v = add3_value();
        let p = Add3Pb::from(&v);
        let mut g = c.benchmark_group("add3");
        g.bench_function("floor", |b| b.iter(|| add3::floor(&v, &mut buf)));
        g.bench_function("zerowire_view", |b| {
            b.iter(|| add3::zerowire_view(&v, &mut buf))
        });
        g.bench_function("zerowire_owned", |b| {
            b.iter(|| add3::zerowire_owned(&v, &mut buf))
        });
        g.bench_function("prost", |b| b.iter(|| add3::prost(&p, &mut vbuf)));
        g.bench_function("bincode", |b| b.iter(|| add3::bincode(&v, &mut buf)));
        g.bench_function("postcard", |b| b.iter(|| add3::postcard(&v, &mut buf)));
        g.finish();
    }
    {
        let v = tick_value();
        let p = TickPb::from(&v);
        let mut g = c.benchmark_group("tick");
        g.bench_function("floor", |b| b.iter(|| tick::floor(&v, &mut buf)));
        g.bench_function("zerowire_view", |b| {
            b.iter(|| tick::zerowire_view(&v, &mut buf))
        });
        g.bench_function("zerowire_owned", |b| {
            b.iter(|| tick::zerowire_owned(&v, &mut buf))
        });
        g.bench_function("prost", |b| b.iter(|| tick::prost(&p, &mut vbuf)));
        g.bench_function("bincode", |b| b.iter(|| tick::bincode(&v, &mut buf)));
        g.bench_function("postcard", |b| b.iter(|| tick::postcard(&v, &mut buf)));
        g.finish();
    }
    {
        let v = sensor_value();
        let p = SensorPb::from(&v);
        let mut g = c.benchmark_group("sensor256");
        g.bench_function("floor", |b| b.iter(|| sensor::floor(&v, &mut buf)));
        g.bench_function("zerowire_view", |b| {
            b.iter(|| sensor::zerowire_view(&v, &mut buf))
        });
        g.bench_function("zerowire_owned", |b| {
            b.iter(|| sensor::zerowire_owned(&v, &mut buf))
        });
        g.bench_function("prost", |b| b.iter(|| sensor::prost(&p, &mut vbuf)));
        g.bench_function("bincode", |b| b.iter(|| sensor::bincode(&v, &mut buf)));
        g.bench_function("postcard", |b| b.iter(|| sensor::postcard(&v, &mut buf)));
        g.finish();
    }
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = wire
}
criterion_main!(benches);
