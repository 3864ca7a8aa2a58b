"""motifbench: a continual-learning benchmark for recurrent networks that learn motifs.

Importing it is cheap (no torch, no avalanche); see docs/design.md and README.md.
"""

from .method import Method, MethodCard, Settings, StreamInfo, hyperparameter
from .registry import STREAMS
from .streams import Motif, Segment, Stream, StreamSpec

__version__ = "0.1.0"

__all__ = ["Method", "MethodCard", "Motif", "STREAMS", "Segment", "Settings", "Stream", "StreamInfo", "StreamSpec",
           "hyperparameter"]
