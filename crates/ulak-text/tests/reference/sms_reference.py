#!/usr/bin/env python3
"""An independent reference for SMS encoding and segmentation (3GPP TS 23.038 / TS 23.040).

Written apart from the Rust engine, in another style: it encodes each text to the actual septet
(or UTF-16 unit) stream with escapes, then cuts that stream into segments by simulating the
User Data sizes, instead of summing per-character costs. Reads JSON lines
{"text", "policy", "concat_ref"} on stdin, writes JSON lines with encoding, segments,
per_segment_chars and split_points (or {"error": ...}).
"""
import json
import sys

ESC = "\x1b"
# TS 23.038 6.2.1: default alphabet, septet order (ESC at 0x1B).
DEFAULT = ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ" + ESC + "ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
           "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
# TS 23.038 A.3.1: Turkish locking shift table.
TURKISH_LOCKING = ("@£$¥€éùıòÇ\nĞğ\rÅåΔ_ΦΓΛΩΠΨΣΘΞ" + ESC + "ŞşßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
                   "İABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§çabcdefghijklmnopqrstuvwxyzäöñüà")
# TS 23.038 6.2.1.1 and A.2.1: extension tables, septet -> character.
DEFAULT_EXT = {0x0A: "\x0c", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\", 0x3C: "[",
               0x3D: "~", 0x3E: "]", 0x40: "|", 0x65: "€"}
TURKISH_EXT = dict(DEFAULT_EXT)
TURKISH_EXT.update({0x47: "Ğ", 0x49: "İ", 0x53: "Ş", 0x63: "ç", 0x67: "ğ", 0x69: "ı", 0x73: "ş"})

assert len(DEFAULT) == 128 and len(TURKISH_LOCKING) == 128

ENCODINGS = {
    # name: (basic table, extension table, national language IE octets)
    "gsm7": (DEFAULT, DEFAULT_EXT, 0),
    "gsm7+turkish-single-shift": (DEFAULT, TURKISH_EXT, 3),
    "gsm7+turkish-locking-shift": (TURKISH_LOCKING, DEFAULT_EXT, 3),
}
ORDER = ["gsm7", "gsm7+turkish-single-shift", "gsm7+turkish-locking-shift", "ucs2"]


def units_of(text, name):
    """Per character, the list of units it becomes, or None if it cannot be encoded."""
    if name == "ucs2":
        out = []
        for ch in text:
            b = ch.encode("utf-16-be")
            out.append([b[i:i + 2] for i in range(0, len(b), 2)])
        return out
    basic, ext, _ = ENCODINGS[name]
    reverse_ext = {c: s for s, c in ext.items()}
    out = []
    for ch in text:
        idx = basic.find(ch) if ch != ESC else -1
        if idx >= 0:
            out.append([idx])
        elif ch in reverse_ext:
            out.append([0x1B, reverse_ext[ch]])
        else:
            return None
    return out


def capacity(name, concat_ref, concatenated):
    ies = (ENCODINGS[name][2] if name != "ucs2" else 0)
    if concatenated:
        ies += 5 if concat_ref == 8 else 6
    udh_bits = (1 + ies) * 8 if ies else 0
    free_bits = 140 * 8 - udh_bits
    if name == "ucs2":
        return free_bits // 16
    # Septets start on a septet boundary after the header (fill bits).
    header_septets = -(-udh_bits // 7)
    return 160 - header_septets


def segment(per_char, cap_single, cap_multi):
    total = sum(len(u) for u in per_char)
    if total <= cap_single:
        return [len(per_char)]
    segments, current, used = [], 0, 0
    for units in per_char:
        if used + len(units) > cap_multi:
            segments.append(current)
            current, used = 0, 0
        current += 1
        used += len(units)
    segments.append(current)
    return segments


def evaluate(text, policy, concat_ref):
    results = {}
    for name in ORDER:
        per_char = units_of(text, name)
        if per_char is None:
            continue
        segs = segment(per_char, capacity(name, concat_ref, False), capacity(name, concat_ref, True))
        results[name] = segs
    if policy == "gsm7-or-ucs2":
        pick = "gsm7" if "gsm7" in results else "ucs2"
    elif policy == "turkish-single-shift":
        pick = next(n for n in ["gsm7", "gsm7+turkish-single-shift", "ucs2"] if n in results)
    elif policy == "turkish-shift":
        pick = min((n for n in ORDER if n in results), key=lambda n: (len(results[n]), ORDER.index(n)))
    else:
        return {"error": "unknown policy"}
    segs = results[pick]
    if len(segs) > 255:
        return {"error": "too many segments"}
    splits, acc = [], 0
    for n in segs[:-1]:
        acc += n
        splits.append(acc)
    return {"encoding": pick, "segments": len(segs), "per_segment_chars": segs, "split_points": splits}


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        print(json.dumps(evaluate(req["text"], req["policy"], req.get("concat_ref", 8))))


if __name__ == "__main__":
    main()
