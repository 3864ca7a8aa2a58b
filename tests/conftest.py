"""Fixtures shared by every test folder."""

import pytest
import torch
from threadpoolctl import threadpool_limits

from motifbench.registry import STREAMS


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """Small networks are fastest (and reproducible) on one CPU thread, as `motifbench run` uses:
    one torch thread and one numpy/scipy BLAS thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def keep_torch_threads():
    """``motifbench run`` sets torch's thread count for the whole process; put it back after each test."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def smoke():
    """The smoke-v1 stream with seed 0 (3 motifs, 1-D, 25 steps)."""
    return STREAMS["smoke-v1"].build(0)
