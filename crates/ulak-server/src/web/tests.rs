//! The catalogues: the same keys in every language, and every key the UI uses present.

use std::collections::BTreeSet;

use super::i18n::{parse, sources};

fn keys(source: &'static str) -> BTreeSet<&'static str> {
    parse(source).keys().copied().collect()
}

#[test]
fn every_catalogue_has_the_same_keys() {
    let [(_, tr), (_, en)] = sources();
    let (tr, en) = (keys(tr), keys(en));
    let only_tr: Vec<_> = tr.difference(&en).collect();
    let only_en: Vec<_> = en.difference(&tr).collect();
    assert!(
        only_tr.is_empty() && only_en.is_empty(),
        "only in tr: {only_tr:?}; only in en: {only_en:?}"
    );
}

/// Keys the templates (`t.get("…")`, `t.with("…"`) and the handlers (string literals
/// `section.key…` whose section is one of the catalogues') name.
fn used_keys() -> BTreeSet<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let pattern = |p: &str| regex::Regex::new(p).unwrap_or_else(|e| panic!("{e}"));
    let in_templates = pattern(r#"t\.(?:get|with)\("([^"]+)""#);
    let in_code = pattern(r#""(([a-z_]+)(?:\.[a-z_]+)+)""#);
    let tr = keys(sources()[0].1);
    let sections: BTreeSet<&str> = tr.iter().filter_map(|k| k.split('.').next()).collect();
    let mut used = BTreeSet::new();
    for (dir, code) in [("templates/web", false), ("src/web", true)] {
        let entries = std::fs::read_dir(root.join(dir)).unwrap_or_else(|e| panic!("{dir}: {e}"));
        for entry in entries.flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            if code {
                let found = in_code.captures_iter(&text);
                let keys = found
                    .filter(|c| sections.contains(&c[2]))
                    .map(|c| c[1].to_owned());
                used.extend(keys);
            } else {
                used.extend(in_templates.captures_iter(&text).map(|c| c[1].to_owned()));
            }
        }
    }
    used
}

#[test]
fn every_key_the_ui_uses_is_in_the_catalogues() {
    let used = used_keys();
    assert!(used.len() > 20, "the scan found too few keys: {used:?}");
    for (lang, source) in sources() {
        let have = keys(source);
        let missing: Vec<_> = used.iter().filter(|k| !have.contains(k.as_str())).collect();
        assert!(missing.is_empty(), "{lang} lacks {missing:?}");
    }
}

#[test]
fn a_missing_key_shows_as_itself() {
    let t = super::i18n::Texts::new(ulak_core::model::Language::Tr);
    assert_eq!(t.get("no.such.key"), "no.such.key");
    assert_eq!(t.get("login.submit"), "Giriş yap");
    let en = super::i18n::Texts::new(ulak_core::model::Language::En);
    assert_eq!(en.get("login.submit"), "Sign in");
}
