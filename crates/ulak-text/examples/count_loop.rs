//! Counts one text many times: for instruction-count profiling with callgrind, which gives
//! stable figures on a noisy shared machine. Usage: count_loop <policy> <iterations> < text
#![allow(clippy::unwrap_used)]

use std::io::Read;

fn main() {
    let mut args = std::env::args().skip(1);
    let policy: ulak_text::Policy = args.next().unwrap().parse().unwrap();
    let n: usize = args.next().unwrap().parse().unwrap();
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).unwrap();
    let opts = ulak_text::Options {
        policy,
        ..Default::default()
    };
    let mut segments = 0;
    for _ in 0..n {
        segments += ulak_text::count(std::hint::black_box(&text), &opts)
            .unwrap()
            .segments;
    }
    println!("{segments}");
}
