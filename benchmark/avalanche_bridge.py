"""A motifbench stream as an Avalanche benchmark (Lomonaco et al. 2021, CVPR Workshops,
"Avalanche: an end-to-end library for continual learning"; avalanche-lib 0.6.0).

Experience k of the ``train`` stream holds motif k's training trials: ``trials_per_motif``
items ``(x, y, t)`` with ``x`` the motif id (a long scalar: the cue), ``y`` the target
(T, d_out) float32 and ``t`` the task label, which is the motif id too (the cue is known at
training and test time, so in Avalanche's terms the stream is task-incremental). All trials of a
motif are alike; what differs between trials is the random initial state that the model draws
(see ``motifbench.baselines.avalanche_strategies``). Each dataset also carries the
classification-style ``targets`` attribute (the motif id again, not part of the items) that some
Avalanche plugins read, e.g. LwF's "classes seen so far" and class-balanced replay buffers.
Motifs shorter than ``n_steps`` are padded with NaN, which the criterion ``NMSELoss`` leaves out.

Built with Avalanche's dataset-first API: ``TaskAwareSupervisedClassificationDataset`` over a
``TensorDataset``, ``benchmark_from_datasets(train=[...])`` and ``with_task_labels``. There is no
test stream: motifbench's evaluator does all testing.

``import avalanche`` takes seconds, so it happens only inside these functions, never when
motifbench is imported or methods are listed.
"""

from __future__ import annotations

import contextlib
import typing
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import nn

from .losses import nmse_loss, nmse_weights

if typing.TYPE_CHECKING:
    from .streams import Motif, Stream


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silences the warnings that importing and driving Avalanche emits (a missing QP solver,
    "no loggers specified", ...): the benchmark prints nothing of its own."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def motif_dataset(motif: Motif, trials_per_motif: int, n_steps: int | None = None) -> Any:
    """One motif's experience data: ``trials_per_motif`` items (motif id, target (n_steps, d_out),
    task label = motif id); the target is padded with NaN up to ``n_steps`` (default: its own)."""
    from torch.utils.data import TensorDataset

    with quiet():
        from avalanche.benchmarks.utils import (
            ConstantSequence,
            DataAttribute,
            TaskAwareSupervisedClassificationDataset,
            TaskLabels,
        )

    if trials_per_motif < 1:
        raise ValueError(f"trials_per_motif must be at least 1, got {trials_per_motif}")
    n_steps = motif.n_steps if n_steps is None else n_steps
    if n_steps < motif.n_steps:
        raise ValueError(f"motif {motif.motif_id} has {motif.n_steps} steps, more than n_steps={n_steps}")
    target = torch.full((n_steps, motif.target.shape[1]), float("nan"))
    target[: motif.n_steps] = torch.from_numpy(motif.target.copy())
    k, n = motif.motif_id, trials_per_motif
    x = torch.full((n,), k, dtype=torch.long)
    y = target.unsqueeze(0).repeat(n, 1, 1)
    return TaskAwareSupervisedClassificationDataset(
        [TensorDataset(x, y)],
        data_attributes=[DataAttribute(ConstantSequence(k, n), "targets"), TaskLabels(ConstantSequence(k, n))],
    )


def benchmark_from_motif_datasets(datasets: Sequence[Any]) -> Any:
    """An Avalanche benchmark whose train experience i is ``datasets[i]``, with task labels."""
    with quiet():
        from avalanche.benchmarks.scenarios.dataset_scenario import benchmark_from_datasets
        from avalanche.benchmarks.scenarios.task_aware import with_task_labels

    return with_task_labels(benchmark_from_datasets(train=list(datasets)))


def as_avalanche_benchmark(stream: Stream, trials_per_motif: int) -> Any:
    """The stream as an Avalanche benchmark: ``bm.train_stream[k]`` holds motif k's trials
    (every target padded to the stream's longest motif)."""
    n_steps = max(m.n_steps for m in stream.motifs)
    return benchmark_from_motif_datasets([motif_dataset(m, trials_per_motif, n_steps) for m in stream.motifs])


class NMSELoss(nn.Module):
    """The training loss of ``RateRNNMethod.fit`` (``losses.nmse_loss``) as an Avalanche
    criterion ``criterion(mb_output, mb_y)``: the mean over trials of mean((y - y*)^2) / var(y*),
    each trial's mean and variance taken over its (T, d_out) target entries; NaN entries of y*
    (padding) are left out. ``last`` holds the value of the latest call (a float), for logging."""

    last: float | None = None

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        mask = torch.isfinite(target)
        clean = torch.where(mask, target, torch.zeros_like(target))
        loss = nmse_loss(output, clean, nmse_weights(clean, mask.to(output.dtype)))
        self.last = float(loss.detach())
        return loss
