"""Helpers of the Method protocol's module."""

import pytest

from motifbench.method import DAMAGE_MODES, HyperparameterError, damage_modes, damaged_weights, ordered_pair


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


# ----------------------------------------------------------------------------------------------
# damage modes (Jarne & Laje): which weights each removes
# ----------------------------------------------------------------------------------------------

# 3 x 3 weights with one absent connection (0) and 8 connections: 4 positive, 4 negative
WEIGHTS = [[0.5, -0.1, 0.0], [-2.0, 0.2, 0.3], [-0.4, 1.5, -0.05]]


def removed(fraction, mode, seed=0):
    import torch

    generator = torch.Generator().manual_seed(seed)
    return damaged_weights(torch.tensor(WEIGHTS, dtype=torch.float64), fraction, mode, generator).tolist()


def test_magnitude_damage_removes_the_smallest_connections_of_either_sign():
    # round(0.25 * 8) = 2 of the 8 connections: |-0.05| and |-0.1|; the absent one does not count
    assert removed(0.25, "magnitude") == [[False, True, False], [False, False, False], [False, False, True]]


def test_sign_damage_removes_the_count_among_that_sign_smallest_first():
    # 2 connections: the positive 0.2 and 0.3; the negative -0.05 and -0.1
    assert removed(0.25, "positive") == [[False, False, False], [False, True, True], [False, False, False]]
    assert removed(0.25, "negative") == [[False, True, False], [False, False, False], [False, False, True]]
    # round(0.75 * 8) = 6 > 4 negative weights: all four go, no positive one
    assert removed(0.75, "negative") == [[False, True, False], [True, False, False], [True, False, True]]


@pytest.mark.parametrize("mode", DAMAGE_MODES)
def test_no_damage_removes_nothing_and_the_fraction_holds_on_a_large_matrix(mode):
    import torch

    weights = torch.randn(200, 200, generator=torch.Generator().manual_seed(3))
    assert not damaged_weights(weights, 0.0, mode, torch.Generator().manual_seed(0)).any()
    gone = damaged_weights(weights, 0.2, mode, torch.Generator().manual_seed(0))
    assert gone.sum().item() == pytest.approx(0.2 * 40_000, rel=0.03 if mode == "random" else 1e-9)
    kept = weights[~gone].abs()
    if mode == "magnitude":
        assert weights[gone].abs().max() <= kept.min()
    if mode in ("positive", "negative"):
        sign = 1 if mode == "positive" else -1
        assert (weights[gone] * sign > 0).all()
        assert weights[gone].abs().max() <= weights[~gone & (weights * sign > 0)].abs().min()


def test_random_damage_draws_the_same_nested_sets_as_before_modes_existed():
    """One uniform draw per entry, of the weights' dtype: removed where it is below the fraction."""
    import torch

    weights = torch.ones(30, 30, dtype=torch.float64)
    draws = torch.rand(30, 30, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    small, large = (damaged_weights(weights, f, "random", torch.Generator().manual_seed(5)) for f in (0.1, 0.3))
    assert torch.equal(small, draws < 0.1) and bool((small <= large).all())


def test_an_unknown_damage_mode_is_refused_by_name():
    with pytest.raises(ValueError, match="damage mode 'sideways'"):
        removed(0.1, "sideways")


def test_damage_modes_of_a_method_follow_its_damage_signature():
    class Old:
        def damage(self, fraction, generator):
            pass

    class New:
        def damage(self, fraction, generator, mode="random"):
            pass

    assert damage_modes(object()) == ()
    assert damage_modes(Old) == ("random",) and damage_modes(Old()) == ("random",)
    assert damage_modes(New()) == DAMAGE_MODES
