"""Property-based tests of the one parser: any text is a value or a ParseError, never another error."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from quotadesk import parse

ANY = st.one_of(st.text(max_size=60), st.integers(), st.floats(), st.booleans(), st.none(), st.decimals())


@settings(max_examples=300, deadline=None)
@given(ANY)
def test_every_value_parses_or_is_refused(value: object) -> None:
    for fn in (parse.money, parse.tokens, parse.timestamp, parse.http_status):
        try:
            fn(value, "f")
        except parse.ParseError as exc:
            assert exc.field == "f"


@settings(max_examples=300, deadline=None)
@given(st.decimals(min_value=0, max_value=Decimal("999999999.999999999"), places=9))
def test_money_round_trips(d: Decimal) -> None:
    assert parse.money(format(d, "f")) == d


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(), max_size=30))
def test_clean_text_is_valid_utf8(text: str) -> None:
    parse.clean_text(text).encode("utf-8")
    parse.dumps({"k": text}).encode("utf-8")
