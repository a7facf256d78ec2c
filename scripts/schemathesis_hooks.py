"""Schemathesis hooks for Ulak's OpenAPI document (loaded by scripts/schemathesis through
SCHEMATHESIS_HOOKS): generators for the two domain formats a JSON Schema cannot state.

- `phone`: a mobile number of Turkey, Northern Cyprus or Azerbaijan in a form people write
  (E.164, national with a trunk 0 read as Turkish, spaced, 90 without +). The ranges are those
  crates/ulak-core/src/phone/ accepts.
- `tckn`: a TC ID number: 11 digits, the first not 0, the 10th
  ((d1+d3+d5+d7+d9)*7 - (d2+d4+d6+d8)) mod 10, the 11th (d1+...+d10) mod 10.

And one check of its own, `error_codes`: every 4xx answer is a problem document whose `code`,
and the `code` of each field error, is one of docs/errors.md.
"""

import json
import pathlib
import re

import schemathesis
from hypothesis import strategies as st

ERRORS_MD = pathlib.Path(__file__).resolve().parent.parent / "docs" / "errors.md"
KNOWN_CODES = set(re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \|", ERRORS_MD.read_text(), re.M))
assert len(KNOWN_CODES) > 20, f"no error codes read from {ERRORS_MD}"


@schemathesis.check
def error_codes(ctx, response, case):
    if not 400 <= response.status_code < 500:
        return None
    kind = response.headers.get("content-type", [""])
    kind = kind[0] if isinstance(kind, list) else kind
    assert kind.startswith("application/problem+json"), f"a {response.status_code} answer of type {kind!r}"
    body = json.loads(response.content)
    assert body.get("code") in KNOWN_CODES, f"problem code {body.get('code')!r} is not in docs/errors.md"
    for e in body.get("errors", []):
        assert e.get("code") in KNOWN_CODES, f"field code {e.get('code')!r} is not in docs/errors.md"
    return None

# Turkish (and KKTC) mobile operator codes, and Azerbaijani ones (Ulak delivers to these only).
TR_CODES = ["501", "505", "506", "507"] + [str(c) for c in range(530, 560)] + ["561"]
AZ_CODES = ["10", "50", "51", "55", "60", "70", "77", "99"]


def _spaced(rest: str) -> str:
    """`1234567` as `123 45 67`."""
    return f"{rest[:3]} {rest[3:5]} {rest[5:]}"


@st.composite
def phones(draw):
    rest = draw(st.text(alphabet="0123456789", min_size=7, max_size=7))
    if draw(st.integers(0, 3)) == 0:
        code = draw(st.sampled_from(AZ_CODES))
        return draw(st.sampled_from([f"+994{code}{rest}", f"+994 {code} {_spaced(rest)}"]))
    code = draw(st.sampled_from(TR_CODES))
    return draw(
        st.sampled_from(
            [
                f"+90{code}{rest}",
                f"0{code}{rest}",
                f"0{code} {_spaced(rest)}",
                f"+90 {code} {_spaced(rest)}",
                f"90{code}{rest}",
                f"(0{code}) {rest}",
            ]
        )
    )


@st.composite
def tckns(draw):
    d = [draw(st.integers(1, 9))] + [draw(st.integers(0, 9)) for _ in range(8)]
    d.append(((d[0] + d[2] + d[4] + d[6] + d[8]) * 7 - (d[1] + d[3] + d[5] + d[7])) % 10)
    d.append(sum(d) % 10)
    return "".join(map(str, d))


schemathesis.openapi.format("phone", phones())
schemathesis.openapi.format("tckn", tckns())
