"""Rebuild ``benchmark/data/gestures10-v1.json``: ten recorded human gestures as a motifbench stream.

The ten motifs are the class means of the UCR archive's PickupGestureWiimoteZ data set: the z-axis
acceleration (in g) of a Nintendo Wiimote while a person picks it up from rest. Its ten classes are
ten subjects (not ten kinds of gesture): every recording is the same "pick-up" gesture ("poteg"), and
motif k is subject k+1's mean pick-up. The file is a "motifbench-stream" file (format in
``benchmark/sources.py``); this script writes it byte for byte the same on every run.

Data: the UCR archive's copy, shipped inside the ``aeon`` package (the unequal-length files
``PickupGestureWiimoteZ_TRAIN.ts`` and ``_TEST.ts`` under ``aeon/datasets/data/``), read with
``aeon.datasets.load_from_ts_file``; nothing is downloaded. 100 recordings: 10 subjects x 10
repetitions, split 50/50 into TRAIN and TEST (5 + 5 per subject).

Preprocessing, in this order:

1. all recordings of TRAIN and TEST together; each is stripped of its trailing NaN padding (the
   archive pads every series to the longest; aeon 1.6's packaged copy already holds them unpadded);
2. 1 g is subtracted (gravity at rest), so that a Wiimote at rest reads about 0;
3. each recording of n samples is time-normalised linearly (``numpy.interp``) onto T = 60 samples at
   the evenly spaced positions ``linspace(0, n - 1, 60)``, i.e. spanning its whole duration;
4. motif k is the mean over the recordings of class k+1, classes in label order 1..10;
5. timebase: dt = (mean recording duration over all 100 recordings) / T, the duration of a recording
   being its number of samples / the sampling rate; tau = 5 dt (dt / tau = 0.2, as in the suite's
   other streams); both in seconds;
6. every value (the targets, dt and tau) is rounded to 4 decimals (tau from the rounded dt).

Sampling rate: 100 Hz (``SAMPLING_RATE_HZ``). Neither the archive's description of the data nor the
abstracts of the data's papers that could be consulted state it, so it is not confirmed for this
data set; 100 Hz is the Wiimote's usual report rate for accelerometer data ("roughly 100 Hz", as
Wiimote driver writers report), and it gives pick-ups of about 1.5 s, which is plausible. Only dt
and tau depend on it.

Citation of the data:

- J. Guna, I. Humar and M. Pogačnik, "Intuitive gesture based user identification system",
  35th International Conference on Telecommunications and Signal Processing (TSP), IEEE, 2012
  (the archive's source; the same group's journal paper on this study, with 10 participants over
  10 days, is in Multimedia Tools and Applications, doi:10.1007/s11042-013-1635-1);
- H. A. Dau, A. Bagnall, K. Kamgar, C.-C. M. Yeh, Y. Zhu, S. Gharghabi, C. A. Ratanamahatana and
  E. Keogh, "The UCR time series archive", IEEE/CAA Journal of Automatica Sinica 6(6):1293-1305,
  2019 (arXiv:1810.07758, 2018), doi:10.1109/JAS.2019.1911747.

Run it (with an interpreter that has aeon and numpy; it does not import motifbench)::

    pip install aeon
    python scripts/make_gestures.py            # writes benchmark/data/gestures10-v1.json
    python scripts/make_gestures.py --check    # exits 1 if the rebuilt bytes differ from that file
    python scripts/make_gestures.py --out PATH # writes elsewhere

It prints the per-class recording counts, dt and tau, and the sha256 of the bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "benchmark" / "data" / "gestures10-v1.json"
DATASET = "PickupGestureWiimoteZ"
SAMPLING_RATE_HZ = 100.0  # not confirmed for this data set: see the module docstring
GRAVITY_G = 1.0
T = 60
TAU_OVER_DT = 5
DECIMALS = 4
THETA = 0.2  # nmse: 4 x joint's worst nmse from rest (0.052 over seeds 0-2), as on the other streams
NAME = "gestures10-v1"
DESCRIPTION = ("Wiimote pick-up gesture of ten subjects (UCR PickupGestureWiimoteZ), one class mean each: "
               "z-axis acceleration in g minus gravity, T = 60.")
CITATION = ("Guna, Humar & Pogačnik, Intuitive gesture based user identification system, TSP 2012, IEEE; "
            "Dau et al., The UCR time series archive, IEEE/CAA J. Autom. Sinica 6(6):1293-1305, 2019, "
            "doi:10.1109/JAS.2019.1911747.")


def load_recordings() -> tuple[list[np.ndarray], list[int]]:
    """Every recording of TRAIN and TEST (1-D, in g, padding stripped) and its class label."""
    import aeon
    from aeon.datasets import load_from_ts_file

    folder = Path(aeon.__file__).resolve().parent / "datasets" / "data" / DATASET
    recordings, labels = [], []
    for split in ("TRAIN", "TEST"):
        path = folder / f"{DATASET}_{split}.ts"
        if not path.is_file():
            raise SystemExit(f"make_gestures: {path.name} is not in this aeon install ({folder}); install aeon")
        X, y = load_from_ts_file(str(path))
        for x, label in zip(X, y):
            x = np.asarray(x, dtype=np.float64).reshape(-1)  # univariate: (1, n) -> (n,)
            finite = np.flatnonzero(~np.isnan(x))
            x = x[: finite[-1] + 1] if finite.size else x[:0]  # strip the trailing NaN padding
            if x.size < 2 or not np.all(np.isfinite(x)):
                raise SystemExit(f"make_gestures: a {split} recording of class {label} has {x.size} samples "
                                 "or a missing value inside it")
            recordings.append(x)
            labels.append(int(label))
    return recordings, labels


def _round(value: float) -> float:
    return float(round(float(value), DECIMALS)) + 0.0  # + 0.0: no "-0.0" in the file


def make() -> tuple[dict, dict]:
    """The stream file's content, and a summary for the command line (counts per class, durations)."""
    recordings, labels = load_recordings()
    classes = sorted(set(labels))
    if classes != list(range(1, 11)):
        raise SystemExit(f"make_gestures: expected classes 1..10, found {classes}")
    normalised = np.stack([np.interp(np.linspace(0.0, x.size - 1, T), np.arange(x.size), x - GRAVITY_G)
                           for x in recordings])
    labels_arr = np.asarray(labels)
    means = [normalised[labels_arr == c].mean(axis=0) for c in classes]
    mean_duration = float(np.mean([x.size for x in recordings])) / SAMPLING_RATE_HZ
    dt = _round(mean_duration / T)
    tau = _round(TAU_OVER_DT * dt)
    summary = {"counts": {c: int(np.sum(labels_arr == c)) for c in classes},
               "mean_duration_s": mean_duration, "dt": dt, "tau": tau}
    obj = {
        "format": "motifbench-stream",
        "format_version": 1,
        "name": NAME,
        "description": DESCRIPTION,
        "citation": CITATION,
        "dt": dt,
        "tau": tau,
        "tier": "standard",
        "theta": THETA,
        "motifs": [[[_round(v)] for v in m] for m in means],
    }
    return obj, summary


def encode(obj: dict) -> bytes:
    return (json.dumps(obj, indent=None, separators=(",", ":"), sort_keys=True) + "\n").encode("utf-8")


def build() -> bytes:
    """The file's bytes, made from aeon's packaged copy of the data."""
    return encode(make()[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"where to write (default {OUT.name} in benchmark/data)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if the rebuilt bytes differ from the file at --out")
    args = parser.parse_args(argv)
    obj, summary = make()
    data = encode(obj)
    sha = hashlib.sha256(data).hexdigest()
    if args.check:
        old = args.out.read_bytes() if args.out.is_file() else None
        if old != data:
            what = "is missing" if old is None else f"differs (sha256 {hashlib.sha256(old).hexdigest()}, rebuilt {sha})"
            print(f"make_gestures: {args.out} {what}; run scripts/make_gestures.py", file=sys.stderr)
            return 1
        print(f"{args.out}: up to date, sha256 {sha}")
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    print("recordings per class: " + ", ".join(f"{c}: {n}" for c, n in summary["counts"].items()))
    print(f"mean duration {summary['mean_duration_s']:.4f} s at {SAMPLING_RATE_HZ:g} Hz: "
          f"dt {summary['dt']} s, tau {summary['tau']} s")
    print(f"wrote {args.out} ({len(data)} bytes), sha256 {sha}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
