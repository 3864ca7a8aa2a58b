"""Helpers of the Method protocol's module."""

import pytest

from motifbench.method import HyperparameterError, ordered_pair


def test_ordered_pair_accepts_a_range():
    assert ordered_pair("span", (1.0, 2.0)) == (1.0, 2.0)
    assert ordered_pair("span", (3.0, 3.0)) == (3.0, 3.0)


@pytest.mark.parametrize("values", [(2.0, 1.0), (1.0,), (1.0, 2.0, 3.0)])
def test_ordered_pair_refuses_anything_else_naming_the_setting(values):
    with pytest.raises(HyperparameterError, match="^span=.*low,high"):
        ordered_pair("span", values)


def test_a_strict_pair_refuses_equal_ends():
    with pytest.raises(HyperparameterError, match="low < high"):
        ordered_pair("span", (1.0, 1.0), strict=True)
