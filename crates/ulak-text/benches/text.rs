//! Counting and encoding speed: an OTP, a 160-character campaign text, 160 and 1,600 characters
//! of Turkish text, under each policy.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use ulak_text::{ConcatRef, Options, Policy, count, encode};

fn texts() -> Vec<(&'static str, String)> {
    let otp = "Dogrulama kodunuz: 482913. Kodu kimseyle paylasmayin.".to_owned();
    let campaign: String = "Sevgili musterimiz, kasim kampanyamizda tum urunlerde %30 indirim sizi bekliyor! Detaylar icin sitemizi ziyaret edin. Iptal icin RET yazip 4609'a gonderin."
        .chars()
        .cycle()
        .take(160)
        .collect();
    let turkish: String = "Değerli müşterimiz, şubemizde ağustos ayı boyunca geçerli çığır açan fırsatları kaçırmayın. İyi günler dileriz. "
        .chars()
        .cycle()
        .take(1600)
        .collect();
    let turkish160: String = turkish.chars().take(160).collect();
    vec![
        ("otp", otp),
        ("campaign160", campaign),
        ("turkish160", turkish160),
        ("turkish1600", turkish),
    ]
}

fn bench(c: &mut Criterion) {
    for (name, text) in texts() {
        for policy in Policy::ALL {
            let opts = Options {
                policy,
                concat_ref: ConcatRef::Eight,
            };
            c.bench_function(&format!("count/{name}/{policy}"), |b| {
                b.iter(|| count(black_box(&text), black_box(&opts)).unwrap())
            });
        }
        let opts = Options::default();
        c.bench_function(&format!("encode/{name}/turkish-shift"), |b| {
            b.iter(|| encode(black_box(&text), black_box(&opts), 7).unwrap())
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
