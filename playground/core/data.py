"""The 2-D data sets of the playground: generated ones, and a user's CSV file.

Generators follow the TensorFlow Playground's ``src/dataset.ts`` in meaning: the same
coordinate range (about -6..6), the same noise slider (0..50, divided by 100 before the
generator sees it), the same label rules. TF's label +1 is our class 1 and -1 is class 0;
regression labels are TF's values. ``moons`` and ``blobs`` are additions of ours.

Arrays: ``points`` ``(n, 2)`` float64 with columns x1, x2; ``labels`` ``(n,)``, int64 class
numbers 0..K-1 for classification, float64 for regression; ``is_train`` ``(n,)`` bool.
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence, TextIO

import numpy as np

from playground.core.json_input import read_capped

CLASSIFICATION = ("circle", "xor", "gauss", "spiral", "moons", "blobs")
REGRESSION = ("plane", "multigauss")
DATASETS = CLASSIFICATION + REGRESSION
FEATURES = ("x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)")
DATA_RANGE = 6.0  # points live in [-6, 6]^2 (gauss's tails may reach past it, as in TF)
MAX_CLASSES = 6
MIN_CSV_ROWS = 10
MAX_ABS_VALUE = 1e6  # coordinates and targets beyond this would overflow the plane's arithmetic
MAX_CSV_BYTES = 200_000_000  # read at most this much of a CSV file (the app's uploads: 2 MB)
MAX_NOISE = 50.0  # the noise slider's top, in slider units (TF: 0..50)


class DataError(ValueError):
    """Bad user data; str(err) is one line saying what to change."""


@dataclass
class DataSet:
    """Points with labels and a train/test split.

    ``points`` ``(n, 2)`` float64; ``labels`` ``(n,)`` int64 classes 0..K-1, or float64
    targets for regression; ``is_train`` ``(n,)`` bool; ``n_classes`` is K >= 2 for
    classification and 0 for regression.
    """

    name: str
    points: np.ndarray
    labels: np.ndarray
    is_train: np.ndarray
    n_classes: int

    def __post_init__(self):
        n = len(self.points)
        if self.points.shape != (n, 2) or self.labels.shape != (n,) or self.is_train.shape != (n,):
            raise ValueError(f"DataSet {self.name!r}: points must be (n, 2), labels and is_train"
                             f" (n,); got {self.points.shape}, {self.labels.shape},"
                             f" {self.is_train.shape}")

    @property
    def is_regression(self) -> bool:
        return self.n_classes == 0

    @property
    def train_points(self) -> np.ndarray:
        """``(n_train, 2)``"""
        return self.points[self.is_train]

    @property
    def train_labels(self) -> np.ndarray:
        """``(n_train,)``"""
        return self.labels[self.is_train]

    @property
    def test_points(self) -> np.ndarray:
        """``(n_test, 2)``"""
        return self.points[~self.is_train]

    @property
    def test_labels(self) -> np.ndarray:
        """``(n_test,)``"""
        return self.labels[~self.is_train]


# ---------------------------------------------------------------------------- generators
# Each takes (n, noise, rng), noise being TF's 0..0.5, and returns points (n, 2) and labels
# (n,). TF makes ceil(n/2) points of each class for odd n (n + 1 in all); we make exactly n:
# the positive class gets ceil(n/2), the negative one floor(n/2).

def _halves(n: int) -> tuple[int, int]:
    """(positive count, negative count) for a two-class set of n points."""
    return n - n // 2, n // 2


def _two_classes(positive: np.ndarray, negative: np.ndarray):
    points = np.vstack([positive, negative])
    labels = np.concatenate([np.ones(len(positive), np.int64), np.zeros(len(negative), np.int64)])
    return points, labels


def _polar(r: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """TF's convention: x = r sin(angle), y = r cos(angle). ``(m,)`` -> ``(m, 2)``."""
    return np.column_stack([r * np.sin(angle), r * np.cos(angle)])


def _circle(n, noise, rng):
    """TF classifyCircleData: class 1 drawn inside radius 2.5, class 0 in the ring 3.5..5;
    the label is whether the point shifted by uniform(-5, 5) * noise per axis lies closer
    than 2.5 to the origin, so noise flips labels but never moves points."""
    radius = 5.0
    n_pos, n_neg = _halves(n)
    inside = _polar(rng.uniform(0, radius * 0.5, n_pos), rng.uniform(0, 2 * np.pi, n_pos))
    ring = _polar(rng.uniform(radius * 0.7, radius, n_neg), rng.uniform(0, 2 * np.pi, n_neg))
    points = np.vstack([inside, ring])
    shifted = points + rng.uniform(-radius, radius, points.shape) * noise
    labels = (np.hypot(shifted[:, 0], shifted[:, 1]) < radius * 0.5).astype(np.int64)
    return points, labels


def _xor(n, noise, rng):
    """TF classifyXORData: x, y uniform in (-5, 5), pushed 0.3 away from the axes; class 1
    where x*y >= 0 for the point shifted by uniform(-5, 5) * noise per axis."""
    points = rng.uniform(-5, 5, (n, 2))
    points += np.where(points > 0, 0.3, -0.3)
    shifted = points + rng.uniform(-5, 5, (n, 2)) * noise
    labels = (shifted[:, 0] * shifted[:, 1] >= 0).astype(np.int64)
    return points, labels


def _gauss(n, noise, rng):
    """TF classifyTwoGaussData: class 1 around (2, 2), class 0 around (-2, -2), each axis
    normal with variance 0.5 + 7 * noise (TF maps noise 0..0.5 linearly to 0.5..4)."""
    std = math.sqrt(0.5 + 7.0 * noise)
    n_pos, n_neg = _halves(n)
    positive = 2.0 + std * rng.standard_normal((n_pos, 2))
    negative = -2.0 + std * rng.standard_normal((n_neg, 2))
    return _two_classes(positive, negative)


def _spiral(n, noise, rng):
    """TF classifySpiralData: two arms, r = 5 i / (n/2), angle = 1.75 * 2 pi i / (n/2) (+pi for
    class 0), each coordinate jittered by uniform(-1, 1) * noise; |x|, |y| < 5.5."""
    half = n / 2  # TF's divisor, also for odd n
    arms = []
    for count, delta_t in zip(_halves(n), (0.0, np.pi)):
        i = np.arange(count)
        arm = _polar(i / half * 5, 1.75 * i / half * 2 * np.pi + delta_t)
        arms.append(arm + rng.uniform(-1, 1, (count, 2)) * noise)
    return _two_classes(*arms)


def _normal_inside(centers: np.ndarray, std: float, rng) -> np.ndarray:
    """``centers`` ``(m, 2)`` plus normal noise of ``std`` per axis, redrawn for any point
    outside [-6, 6]^2: a normal truncated to the range (centers must lie inside it)."""
    points = centers + std * rng.standard_normal(centers.shape)
    outside = np.flatnonzero(np.any(np.abs(points) > DATA_RANGE, axis=1))
    while outside.size:
        points[outside] = centers[outside] + std * rng.standard_normal((outside.size, 2))
        outside = outside[np.any(np.abs(points[outside]) > DATA_RANGE, axis=1)]
    return points


MOONS_SCALE = 3.5  # unit moons span x -1..2, y -0.5..1; scaled they span x -5.25..5.25


def _moons(n, noise, rng):
    """Two interleaving half circles (scikit-learn's make_moons, angles drawn at random):
    class 0 the upper moon (cos t, sin t), class 1 the lower (1 - cos t, 0.5 - sin t),
    t uniform in [0, pi], centred and scaled by 3.5. noise is the normal std in unit-moon
    units (like make_moons' ``noise``), kept inside the range."""
    n_lower, n_upper = _halves(n)
    t_lower, t_upper = rng.uniform(0, np.pi, n_lower), rng.uniform(0, np.pi, n_upper)
    lower = np.column_stack([1 - np.cos(t_lower), 0.5 - np.sin(t_lower)])
    upper = np.column_stack([np.cos(t_upper), np.sin(t_upper)])
    curve, labels = _two_classes(lower, upper)
    curve = (curve - (0.5, 0.25)) * MOONS_SCALE
    return _normal_inside(curve, MOONS_SCALE * noise, rng), labels


BLOBS_RADIUS = 2.0 * math.sqrt(2.0)  # so 2 blobs sit at (-2, -2) and (2, 2), like gauss


def _blobs(n, noise, rng, classes):
    """``classes`` normal blobs, centers evenly on a circle of radius 2*sqrt(2), class k at
    angle 5pi/4 + 2 pi k / K (K = 2 puts class 1 at (2, 2), as in gauss). Per-axis variance
    0.5 + 7 * noise, as gauss; points are kept inside the range. Counts differ by at most 1."""
    labels = np.arange(n, dtype=np.int64) % classes
    angles = 1.25 * np.pi + 2 * np.pi * labels / classes
    centers = BLOBS_RADIUS * np.column_stack([np.cos(angles), np.sin(angles)])
    return _normal_inside(centers, math.sqrt(0.5 + 7.0 * noise), rng), labels


def plane_label(points: np.ndarray) -> np.ndarray:
    """TF regressPlane's label: (x1 + x2) / 10, its d3 scale [-10, 10] -> [-1, 1] unclamped.
    ``(m, 2)`` -> ``(m,)``."""
    return (points[:, 0] + points[:, 1]) / 10.0


_GAUSSIANS = np.array([[-4, 2.5, 1], [0, 2.5, -1], [4, 2.5, 1],
                       [-4, -2.5, -1], [0, -2.5, 1], [4, -2.5, -1]], dtype=np.float64)


def multigauss_label(points: np.ndarray) -> np.ndarray:
    """TF regressGaussian's label: for each of six bumps (cx, cy, sign),
    sign * max(0, 1 - distance / 2); the label is the value largest in absolute value
    (the first on ties, 0 far from all). ``(m, 2)`` -> ``(m,)``."""
    distance = np.hypot(points[:, :1] - _GAUSSIANS[:, 0], points[:, 1:] - _GAUSSIANS[:, 1])
    values = _GAUSSIANS[:, 2] * np.clip(1.0 - distance / 2.0, 0.0, 1.0)  # (m, 6)
    return values[np.arange(len(points)), np.argmax(np.abs(values), axis=1)]


def _regression(label: Callable[[np.ndarray], np.ndarray]):
    """TF regressPlane / regressGaussian: points uniform in [-6, 6)^2; the label is taken
    at the point shifted by uniform(-6, 6) * noise per axis."""
    def generate_points(n, noise, rng):
        points = rng.uniform(-DATA_RANGE, DATA_RANGE, (n, 2))
        shifted = points + rng.uniform(-DATA_RANGE, DATA_RANGE, (n, 2)) * noise
        return points, label(shifted)
    return generate_points


_GENERATORS = {"circle": _circle, "xor": _xor, "gauss": _gauss, "spiral": _spiral,
               "moons": _moons, "plane": _regression(plane_label),
               "multigauss": _regression(multigauss_label)}


def _train_count(n: int, train_ratio: float) -> int:
    """TF's floor(n * ratio / 100), kept within 1..n-1 so both splits are non-empty."""
    return min(max(math.floor(n * train_ratio / 100), 1), n - 1)


def _check_train_ratio(train_ratio: float) -> None:
    if not 0 <= train_ratio <= 100:
        raise DataError(f"train ratio {train_ratio} is outside 0..100 (percent of points)")


def generate(name: str, n_points: int = 500, noise: float = 0.0, seed: int = 0,
             classes: int = 2, train_ratio: float = 50.0) -> DataSet:
    """Data set ``name`` with ``n_points`` points, shuffled, the first
    floor(n_points * train_ratio / 100) of them training points (at least one of each).

    ``noise`` is the slider value 0..50 (TF divides it by 100); ``classes`` (2..6) is used
    by ``blobs`` only, the other classification sets have 2. Everything is drawn from
    ``np.random.default_rng([seed, 0])``, so a seed gives the same data every time.
    """
    if name not in DATASETS:
        raise DataError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")
    if not 0 <= noise <= MAX_NOISE:
        raise DataError(f"noise {noise} is outside 0..{MAX_NOISE:g}")
    if n_points < 2:
        raise DataError(f"{n_points} points is too few; a data set needs at least 2")
    _check_train_ratio(train_ratio)
    n = int(n_points)
    rng = np.random.default_rng([seed, 0])
    if name == "blobs":
        if not 2 <= classes <= MAX_CLASSES:
            raise DataError(f"blobs can have 2..{MAX_CLASSES} classes, not {classes}")
        if n < classes:
            raise DataError(f"{classes} blobs need at least {classes} points, not {n}")
        points, labels = _blobs(n, noise / 100, rng, int(classes))
        n_classes = int(classes)
    else:
        points, labels = _GENERATORS[name](n, noise / 100, rng)
        n_classes = 0 if name in REGRESSION else 2
    order = rng.permutation(n)  # TF shuffles, then slices off the training points
    is_train = np.arange(n) < _train_count(n, train_ratio)
    return DataSet(name, points[order], labels[order], is_train, n_classes)


# ------------------------------------------------------------------------------ features

_FEATURE_FUNCTIONS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "x1": lambda x1, x2: x1,
    "x2": lambda x1, x2: x2,
    "x1^2": lambda x1, x2: x1 * x1,
    "x2^2": lambda x1, x2: x2 * x2,
    "x1*x2": lambda x1, x2: x1 * x2,
    "sin(x1)": lambda x1, x2: np.sin(x1),
    "sin(x2)": lambda x1, x2: np.sin(x2),
}


def feature_matrix(points: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """The network's inputs: ``points`` ``(n, 2)`` -> ``(n, len(names))`` float64, one
    column per feature name (see FEATURES), in the order given."""
    unknown = [name for name in names if name not in _FEATURE_FUNCTIONS]
    if unknown:
        raise DataError(f"unknown feature(s) {', '.join(map(repr, unknown))};"
                        f" choose from {', '.join(FEATURES)}")
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points must have shape (n, 2), not {points.shape}")
    x1, x2 = points[:, 0], points[:, 1]
    columns = [_FEATURE_FUNCTIONS[name](x1, x2) for name in names]
    return np.column_stack(columns) if columns else np.empty((len(points), 0))


# ----------------------------------------------------------------------------------- CSV

_REQUIRED_COLUMNS = ("x1", "x2", "label")


def _read_rows(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header (stripped, lower case) and the non-blank data rows with their row
    numbers, counted from the header as row 1, as a spreadsheet shows them."""
    if not path.exists():
        raise DataError(f"file {str(path)!r} not found; choose an existing CSV file")
    if not path.is_file():
        raise DataError(f"{str(path)!r} is not a file; choose a CSV file")
    raw = read_capped(path, path.name, DataError, MAX_CSV_BYTES)  # a byte cap: pipes, sparse files
    try:
        reader = csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""))
        rows = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    except UnicodeDecodeError:
        raise DataError(f"{path.name} is not UTF-8 text; save it as a UTF-8 CSV file") from None
    except csv.Error as err:
        raise DataError(f"{path.name} is not a readable CSV file ({err})") from None
    if not rows:
        raise DataError(f"{path.name} is empty; it needs a header x1,x2,label and data rows")
    header = [cell.strip().lower() for cell in rows[0][1]]
    return header, rows[1:]


def _column_indices(header: list[str], file_name: str) -> dict[str, int]:
    """Positions of x1, x2, label and (if present) split in the header."""
    if all(_is_number(cell) for cell in header):
        raise DataError(f"{file_name} has no header; add a first row naming the columns"
                        f" x1,x2,label")
    missing = [name for name in _REQUIRED_COLUMNS if name not in header]
    if missing:
        hint = (" (columns must be separated by commas)"
                if len(header) == 1 and (";" in header[0] or "\t" in header[0]) else "")
        raise DataError(f"{file_name} lacks column(s) {', '.join(missing)}; the header must"
                        f" name x1, x2 and label{hint}")
    wanted = _REQUIRED_COLUMNS + ("split",)
    for name in wanted:
        if header.count(name) > 1:
            raise DataError(f"{file_name} has column {name!r} more than once; keep one")
    return {name: header.index(name) for name in wanted if name in header}


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _parse_number(text: str, row_number: int, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        shown = repr(text.strip()) if text.strip() else "an empty cell"
        raise DataError(f"row {row_number}, column {column}: {shown} is not a number") from None
    if not math.isfinite(value) or abs(value) > MAX_ABS_VALUE:
        raise DataError(f"row {row_number}, column {column}: {text.strip()[:40]!r} is not a finite number"
                        f" from -{MAX_ABS_VALUE:g} to {MAX_ABS_VALUE:g}; use an ordinary number")
    return value


def load_csv(path, train_ratio: float = 50.0, seed: int = 0) -> DataSet:
    """A data set read from a CSV file with a header naming x1, x2 and label (any order;
    other columns are ignored). An optional ``split`` column of train/test sets the split;
    without it the rows are split as :func:`generate` does, with ``train_ratio`` and ``seed``.

    Labels that are all whole numbers make a classification set, their sorted distinct
    values becoming classes 0..K-1 (so -1, 1 -> 0, 1); any other labels make a regression
    set. Points keep the file's order and values (no rescaling to the range).
    Raises :class:`DataError` with a one-line message for anything unusable.
    """
    _check_train_ratio(train_ratio)
    path = Path(path)
    header, rows = _read_rows(path)
    columns = _column_indices(header, path.name)
    if len(rows) < MIN_CSV_ROWS:
        raise DataError(f"{path.name} has {len(rows)} data row(s); at least {MIN_CSV_ROWS}"
                        f" are needed")
    values = np.empty((len(rows), 3))
    splits = []
    for i, (row_number, row) in enumerate(rows):
        if len(row) != len(header):
            raise DataError(f"row {row_number} has {len(row)} values but the header names"
                            f" {len(header)} columns")
        for j, name in enumerate(_REQUIRED_COLUMNS):
            values[i, j] = _parse_number(row[columns[name]], row_number, name)
        if "split" in columns:
            split = row[columns["split"]].strip().lower()
            if split not in ("train", "test"):
                raise DataError(f"row {row_number}, column split: {split!r} must be train or"
                                f" test")
            splits.append(split == "train")

    points, raw_labels = values[:, :2], values[:, 2]
    if np.all(raw_labels == np.round(raw_labels)):
        classes, labels = np.unique(raw_labels, return_inverse=True)
        if len(classes) < 2:
            raise DataError(f"{path.name} has only one class (label {classes[0]:g});"
                            f" classification needs at least 2")
        if len(classes) > MAX_CLASSES:
            raise DataError(f"{path.name} has {len(classes)} classes (whole-number labels);"
                            f" at most {MAX_CLASSES} are supported")
        labels, n_classes = labels.astype(np.int64).reshape(-1), len(classes)
    else:
        labels, n_classes = raw_labels.copy(), 0

    n = len(rows)
    if splits:
        is_train = np.array(splits, dtype=bool)
        if is_train.all() or not is_train.any():
            which = "test" if is_train.all() else "train"
            raise DataError(f"column split has no {which} rows; mark at least one row {which}")
    else:
        order = np.random.default_rng([seed, 0]).permutation(n)
        is_train = np.zeros(n, dtype=bool)
        is_train[order[:_train_count(n, train_ratio)]] = True
    return DataSet(path.name, points.copy(), labels, is_train, n_classes)


def write_csv(dataset: DataSet, stream: TextIO) -> None:
    """Writes ``dataset`` to a text stream as CSV: header x1,x2,label,split, then one row
    per point; floats at repr precision so :func:`load_csv` reads back the same values,
    class labels as integers. (A regression set whose labels are all whole numbers reads
    back as classification.)"""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(["x1", "x2", "label", "split"])
    for (x1, x2), label, train in zip(dataset.points.tolist(), dataset.labels.tolist(),
                                      dataset.is_train.tolist()):
        label_text = repr(float(label)) if dataset.is_regression else str(int(label))
        writer.writerow([repr(x1), repr(x2), label_text, "train" if train else "test"])
