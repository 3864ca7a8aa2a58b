"""The trusted side of the request boundary (motifbench.remote): a method in its own process
scores as it does in this one, and a reply it should not send fails the run in one line."""

import numpy as np
import pytest
import torch

from motifbench import registry
from motifbench.evaluator import EvalConfig, Evaluator, damage_curve
from motifbench.method import DAMAGE_MODES, MethodError
from motifbench.remote import Catalogue, RemoteMethod, SealedState
from motifbench.registry import STREAMS
from motifbench.worker import Limits

QUICK = EvalConfig(n_sequences=2, sequence_length=3, transition_repeats=1, prep_sweep_tau=(10.0,))
LIMITS = Limits(time_s=120)


@pytest.fixture
def toy_path(monkeypatch):
    """``toy_methods:Class`` importable in the method processes."""
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).parent))


def test_a_remote_method_scores_exactly_as_the_same_method_in_this_process():
    stream = STREAMS["smoke-v1"].build(0)
    settings = {"n_hidden": 16, "max_iterations": 40}
    local = Evaluator(registry.get_method("finetune")(**settings), stream, 0, QUICK).run()
    with RemoteMethod("finetune", settings, LIMITS) as method:
        remote = Evaluator(method, stream, 0, QUICK).run()
        assert method.label == "finetune" and method.card.uses_sgd
        assert method.hyperparameters()["n_hidden"] == 16
        state = method.state_dict()
        assert isinstance(state, SealedState) and state == method.state_dict()
    np.testing.assert_equal(remote.metrics, local.metrics)  # NaN equals NaN (no songs)
    for name in ("R", "transition_nmse", "sequence_nmse", "probe_change"):
        assert np.array_equal(getattr(remote, name), getattr(local, name), equal_nan=True)
    assert remote.curves == local.curves  # the damage curve and the noise curve's generator state crossed too


def test_damage_modes_cross_the_boundary_as_the_method_serves_them(toy_path):
    """finetune serves every mode, a damage without ``mode`` "random" alone, and a mode the
    process does not know is refused there in one line."""
    stream = STREAMS["smoke-v1"].build(0)
    with RemoteMethod("toy_methods:OldStyleDamage", {}, LIMITS) as method:
        assert method.damage_modes == ("random",)
        curves = Evaluator(method, stream, 0, QUICK).run().curves
        assert damage_curve("random") in curves and damage_curve("magnitude") not in curves
    with RemoteMethod("zero", {}, LIMITS) as method:
        assert method.damage_modes == () and not hasattr(method, "damage")
    with RemoteMethod("finetune", {"n_hidden": 8}, LIMITS) as method:
        assert method.damage_modes == DAMAGE_MODES
        method.setup(Evaluator(method, stream, 0, QUICK).info, 0)
        assert method.recurrent_matrix().shape == (8, 8)
        with pytest.raises(MethodError, match="damage mode 'sideways'"):
            method.damage(0.1, torch.Generator(), "sideways")


@pytest.mark.parametrize(
    "spec, words",
    [
        ("toy_methods:NonSquareRecurrence", "recurrent_matrix returned shape (2, 3)"),
        ("toy_methods:OversizedOutput", "broke the protocol during generate: message announces more than"),
        ("toy_methods:GarbageOnTheWire", "broke the protocol during learn"),
        ("toy_methods:NaNOutput", "NaN"),
    ],
)
def test_a_reply_the_method_should_not_send_fails_the_run_in_one_line(spec, words, toy_path):
    stream = STREAMS["smoke-v1"].build(0)
    with RemoteMethod(spec, {}, LIMITS) as method:
        with pytest.raises(MethodError) as error:
            Evaluator(method, stream, 0, QUICK).run()
    message = str(error.value)
    assert words in message and "\n" not in message and message.startswith(f"method {method.label}:")


def test_the_catalogue_describes_registered_methods_here_and_checks_settings_against_the_stream():
    from motifbench.evaluator import stream_info
    from motifbench.method import HyperparameterError

    info = stream_info(STREAMS["smooth10-v1"].build(0), EvalConfig())
    with Catalogue(["thalamocortical"], LIMITS) as catalogue:
        assert "loop_rank" in catalogue.setting_names("thalamocortical")
        assert catalogue.parse("thalamocortical", {"loop_rank": "3"}, info) == {"loop_rank": 3}
        with pytest.raises(HyperparameterError, match="loop_rank"):
            catalogue.parse("thalamocortical", {"loop_rank": "1"}, info)  # below the stream's d_out of 2
