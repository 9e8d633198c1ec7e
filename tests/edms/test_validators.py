"""Identifiers and file names, over many generated inputs."""

from __future__ import annotations

import string
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from edms.validators import filename_problem, pinfl_problem, tin_problem

digits = st.text(alphabet=string.digits, min_size=0, max_size=20)


@given(digits)
def test_tin_is_nine_digits_not_starting_with_zero(value: str) -> None:
    ok = len(value) == 9 and value[0] != "0"
    assert (tin_problem(value) is None) == ok


@given(digits)
def test_pinfl_is_fourteen_digits_starting_1_to_6(value: str) -> None:
    ok = len(value) == 14 and value[0] in "123456"
    assert (pinfl_problem(value) is None) == ok


@given(st.text(min_size=1, max_size=300))
def test_accepted_file_names_are_plain_names(name: str) -> None:
    if filename_problem(name) is None:
        assert "/" not in name
        assert "\\" not in name
        assert name.strip() not in (".", "..")
        bad = {"Cc", "Cf", "Cs", "Cn", "Zl", "Zp"}  # controls, format, unassigned, separators
        assert not any(unicodedata.category(ch) in bad for ch in name)
        assert len(name.encode()) <= 255


@given(st.sampled_from(["a/b", "../x", "..\\x", "x\ny", "x\x00", "\u202etxt.exe", "", "  "]))
def test_known_tricks_are_refused(name: str) -> None:
    assert filename_problem(name) is not None
