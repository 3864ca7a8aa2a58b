"""The Avalanche bridge: a stream as an Avalanche benchmark, and Avalanche imported only where used."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from motifbench.streams import Motif, Stream

NO_AVALANCHE = textwrap.dedent(
    """
    import sys
    import motifbench
    import motifbench.registry
    from motifbench import cli
    import motifbench.avalanche_bridge
    import motifbench.baselines.avalanche_strategies
    # listed as they are (or will be) registered: listing imports their module
    names = ["Naive", "EWC", "SI", "LwF", "Replay"]
    for name in names:
        key = "avalanche_" + name.lower()
        motifbench.registry.METHODS.setdefault(key, "motifbench.baselines.avalanche_strategies:Avalanche" + name)
    assert cli.main(["ls", "methods"]) == 0
    loaded = sorted(name for name in sys.modules if name.split(".")[0] == "avalanche")
    assert not loaded, loaded
    print("avalanche not imported")
    """
)


def test_motifbench_and_listing_methods_do_not_import_avalanche():
    # a fresh interpreter: other tests of this session may have imported avalanche
    result = subprocess.run(
        [sys.executable, "-c", NO_AVALANCHE], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "avalanche not imported" in result.stdout
    for name in ("naive", "ewc", "si", "lwf", "replay"):
        assert f"avalanche_{name} " in result.stdout  # listed with its card and hyperparameters


@pytest.fixture(scope="module")
def bridge():
    pytest.importorskip("avalanche")
    from motifbench import avalanche_bridge

    return avalanche_bridge


def test_stream_becomes_one_experience_per_motif(bridge, smoke):
    bm = bridge.as_avalanche_benchmark(smoke, trials_per_motif=5)
    experiences = list(bm.train_stream)
    assert len(experiences) == len(smoke.motifs) == 3
    for k, (experience, motif) in enumerate(zip(experiences, smoke.motifs)):
        assert experience.current_experience == k
        assert experience.task_label == k and experience.task_labels == [k]
        data = experience.dataset
        assert len(data) == 5
        assert set(data.targets_task_labels.uniques) == {k} and set(data.targets.uniques) == {k}
        for x, y, t in (data[i] for i in range(len(data))):
            assert x.dtype == torch.long and x.shape == () and int(x) == motif.motif_id
            assert y.dtype == torch.float32 and tuple(y.shape) == motif.target.shape == (25, 1)
            np.testing.assert_array_equal(y.numpy(), motif.target)
            assert t == k


def test_minibatches_are_ids_targets_and_task_labels(bridge, smoke):
    experience = bridge.as_avalanche_benchmark(smoke, trials_per_motif=4).train_stream[2]
    x, y, t = next(iter(torch.utils.data.DataLoader(experience.dataset, batch_size=4)))
    assert x.tolist() == [2] * 4 and t.tolist() == [2] * 4
    assert tuple(y.shape) == (4, 25, 1)


def test_shorter_motifs_are_padded_with_nan_and_the_criterion_ignores_padding(bridge):
    rng = np.random.default_rng(0)
    motifs = (Motif(0, rng.normal(size=(6, 2))), Motif(1, rng.normal(size=(4, 2))))
    stream = Stream("mixed", 0, motifs, "two lengths", "test", "smoke")
    bm = bridge.as_avalanche_benchmark(stream, trials_per_motif=2)
    _, y, _ = bm.train_stream[1].dataset[0]
    assert tuple(y.shape) == (6, 2)
    np.testing.assert_array_equal(y[:4].numpy(), motifs[1].target)
    assert torch.isnan(y[4:]).all()

    criterion = bridge.NMSELoss()
    target = torch.from_numpy(motifs[1].target.copy())
    output = torch.zeros(1, 6, 2)
    expected = float((target**2).mean() / target.var(unbiased=False))
    assert criterion(output, y.unsqueeze(0)).item() == pytest.approx(expected, rel=1e-5)
    assert criterion(target.unsqueeze(0), target.unsqueeze(0)).item() == 0.0
    assert criterion.last == 0.0


def test_trials_per_motif_must_be_positive(bridge, smoke):
    with pytest.raises(ValueError, match="trials_per_motif"):
        bridge.as_avalanche_benchmark(smoke, trials_per_motif=0)
