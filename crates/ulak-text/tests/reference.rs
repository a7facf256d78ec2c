//! Differential test: `count` agrees with an independent reference implementation of
//! TS 23.038 / 23.040 (tests/reference/sms_reference.py, written apart and in another style) on
//! thousands of Turkish OTP, campaign and boundary texts, under all three policies.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use ulak_text::{ConcatRef, Options, Policy, count};

/// A small deterministic generator, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const WORDS: &[&str] = &[
    "Sayın",
    "müşterimiz",
    "doğrulama",
    "kodunuz",
    "şifreniz",
    "İstanbul",
    "Ağustos",
    "kampanya",
    "indirim",
    "ödeme",
    "hesabınız",
    "Çarşamba",
    "gün",
    "ışık",
    "Iğdır",
    "Güneş",
    "çok",
    "RET",
    "İPTAL",
    "yazıp",
    "gönderin",
    "TL",
    "%20",
    "€",
    "{kod}",
    "[bilgi]",
    "a|b",
    "~",
    "^",
    "\\",
    "café",
    "è",
    "Ø",
    "¿",
    "¡",
    "Æ",
    "ß",
    "ñ",
    "Δ",
    "Ω",
    "\n",
    "\r\n",
    "\u{0C}",
    "Ğğ",
    "Şş",
    "İı",
    "ç",
];

/// Words no GSM table carries: they force UCS-2.
const EXOTIC: &[&str] = &["😀", "👍", "привет", "ā", "…", "’", "₺"];

const PREFIXES: &[&str] = &[
    "Doğrulama kodunuz: ",
    "OTP ",
    "Sayın müşterimiz, ",
    "Kampanya! ",
    "",
];

fn otp(rng: &mut Rng) -> String {
    format!(
        "{}{:06}. Kodu kimseyle paylaşmayın.",
        rng.pick(PREFIXES),
        rng.next() % 1_000_000
    )
}

fn campaign(rng: &mut Rng) -> String {
    let words = 5 + rng.below(120);
    // One text in four may hold words that force UCS-2.
    let exotic = rng.below(4) == 0;
    let mut s = String::new();
    for i in 0..words {
        if i > 0 {
            s.push(' ');
        }
        let pool = if exotic && rng.below(10) == 0 {
            EXOTIC
        } else {
            WORDS
        };
        let word: &&str = rng.pick(pool);
        s.push_str(word);
    }
    s
}

/// Plain filler up to a boundary length, then a special character exactly around it.
fn boundary(rng: &mut Rng) -> String {
    let edges = [
        67, 70, 134, 149, 152, 153, 155, 160, 201, 298, 306, 447, 459,
    ];
    let edge = *rng.pick(&edges) as i64 + rng.below(5) as i64 - 2;
    let filler = *rng.pick(&["a", "ş", "é", "1", "ı"]);
    let special = *rng.pick(&["€", "{", "😀", "ş", "İ", "ç", "x", "\u{0C}", "ğ", "ж"]);
    let mut s = filler.repeat(edge.max(0) as usize);
    s.push_str(special);
    s.push_str(&"b".repeat(rng.below(4)));
    s
}

fn corpus() -> Vec<String> {
    let mut rng = Rng(0x005E_ED0F_01A6);
    let mut texts = vec![
        String::new(),
        "a".repeat(255 * 153),
        "a".repeat(255 * 153 + 1),
    ];
    for i in 0..3000 {
        texts.push(match i % 3 {
            0 => otp(&mut rng),
            1 => campaign(&mut rng),
            _ => boundary(&mut rng),
        });
    }
    texts
}

fn python() -> Option<&'static str> {
    let ok = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then_some("python3")
}

#[test]
fn agrees_with_the_independent_reference() {
    let Some(py) = python() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "python3 is required in CI for the reference check"
        );
        eprintln!("SKIPPED: python3 not found; the reference comparison needs it");
        return;
    };
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/reference/sms_reference.py"
    );
    let texts = corpus();
    let mut requests = Vec::new();
    let mut cases = Vec::new();
    for text in &texts {
        for policy in Policy::ALL {
            for concat_ref in [ConcatRef::Eight, ConcatRef::Sixteen] {
                let line = json!({"text": text, "policy": policy.as_str(), "concat_ref": concat_ref.bits()});
                requests.push(line.to_string());
                cases.push((text, policy, concat_ref));
            }
        }
    }
    let mut child = Command::new(py)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = requests.join("\n");
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "reference failed");
    let answers: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(answers.len(), cases.len());
    let mut compared = 0;
    for ((text, policy, concat_ref), want) in cases.into_iter().zip(answers) {
        let got = count(text, &Options { policy, concat_ref });
        let short: String = text.chars().take(40).collect();
        match got {
            Err(e) => assert!(
                want.get("error").is_some(),
                "{policy} {short:?}: we refused ({e}), reference did not: {want}"
            ),
            Ok(c) => {
                assert!(
                    want.get("error").is_none(),
                    "{policy} {short:?}: reference refused, we did not"
                );
                assert_eq!(
                    want["encoding"],
                    c.encoding.as_str(),
                    "{policy} {concat_ref:?} {short:?}"
                );
                assert_eq!(
                    want["segments"], c.segments,
                    "{policy} {concat_ref:?} {short:?}"
                );
                assert_eq!(
                    want["per_segment_chars"],
                    json!(c.per_segment_chars),
                    "{policy} {short:?}"
                );
                assert_eq!(
                    want["split_points"],
                    json!(c.split_points),
                    "{policy} {short:?}"
                );
            }
        }
        compared += 1;
    }
    assert!(compared > 18_000);
}
