"""Tests for playground.core.data: the generated data sets, features, and CSV files."""
from __future__ import annotations

import io
import math

import numpy as np
import pytest

from playground.core import data
from playground.core.data import (CLASSIFICATION, DATA_RANGE, DATASETS, FEATURES, MAX_CLASSES,
                             MIN_CSV_ROWS, REGRESSION, DataError, DataSet, feature_matrix,
                             generate, load_csv, write_csv)

TWO_CLASS = ("circle", "xor", "gauss", "spiral", "moons")


def test_public_names():
    assert CLASSIFICATION == ("circle", "xor", "gauss", "spiral", "moons", "blobs")
    assert REGRESSION == ("plane", "multigauss")
    assert DATASETS == CLASSIFICATION + REGRESSION
    assert FEATURES == ("x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)")
    assert (DATA_RANGE, MAX_CLASSES, MIN_CSV_ROWS) == (6.0, 6, 10)
    assert issubclass(DataError, ValueError)


# ----------------------------------------------------------------------- shapes and dtypes

@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("n_points", [500, 37, 2])
def test_shapes_and_dtypes(name, n_points):
    d = generate(name, n_points=n_points, noise=10, classes=2)
    assert d.name == name
    assert d.points.shape == (n_points, 2) and d.points.dtype == np.float64
    assert d.labels.shape == (n_points,)
    assert d.is_train.shape == (n_points,) and d.is_train.dtype == np.bool_
    assert np.isfinite(d.points).all() and np.isfinite(d.labels).all()
    if name in REGRESSION:
        assert d.is_regression and d.n_classes == 0 and d.labels.dtype == np.float64
    else:
        assert not d.is_regression and d.n_classes == 2 and d.labels.dtype == np.int64
        assert set(np.unique(d.labels)) <= {0, 1}


def test_train_test_views():
    d = generate("gauss", 100, train_ratio=30)
    assert np.array_equal(d.train_points, d.points[d.is_train])
    assert np.array_equal(d.train_labels, d.labels[d.is_train])
    assert np.array_equal(d.test_points, d.points[~d.is_train])
    assert np.array_equal(d.test_labels, d.labels[~d.is_train])
    assert len(d.train_points) == 30 and len(d.test_labels) == 70


# ------------------------------------------------------------------------------- ranges

@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_points_inside_range_at_noise_0(name, seed):
    # No margin needed: every generator keeps noise-free points inside [-6, 6]^2 (gauss's
    # normal tails would need 5.6 standard deviations to leave it).
    d = generate(name, 500, noise=0, seed=seed, classes=6)
    assert np.abs(d.points).max() <= DATA_RANGE


@pytest.mark.parametrize("name", [n for n in DATASETS if n != "gauss"])
def test_points_inside_range_at_full_noise(name):
    d = generate(name, 1000, noise=50, classes=6)
    assert np.abs(d.points).max() <= DATA_RANGE


def test_gauss_at_full_noise_leaves_range_like_tf():
    # TF draws gauss unclipped (std 2 at full noise); we do the same, so some points fall outside.
    d = generate("gauss", 1000, noise=50)
    assert np.abs(d.points).max() > DATA_RANGE


def test_spiral_and_xor_extents():
    spiral = generate("spiral", 500, noise=50)
    assert np.abs(spiral.points).max() < 5.5  # radius < 5, jitter < 0.5
    xor = generate("xor", 500)
    assert np.abs(xor.points).min() >= 0.3  # TF's padding keeps points off the axes
    assert np.abs(xor.points).max() <= 5.3


# ------------------------------------------------------------------------------ balance

@pytest.mark.parametrize("name", TWO_CLASS)
@pytest.mark.parametrize("noise", [0, 25])
def test_two_class_balance(name, noise):
    d = generate(name, 500, noise=noise)
    share = np.mean(d.labels == 1)
    assert 0.4 <= share <= 0.6


@pytest.mark.parametrize("name", ["gauss", "spiral", "moons"])
def test_point_classes_split_exactly_in_halves(name):
    # Generators that draw each class separately: ceil(n/2) of class 1, floor(n/2) of class 0.
    d = generate(name, 501, noise=30)
    assert np.bincount(d.labels).tolist() == [250, 251]


@pytest.mark.parametrize("k", range(2, MAX_CLASSES + 1))
def test_blobs_classes_balanced(k):
    d = generate("blobs", 500, classes=k)
    counts = np.bincount(d.labels, minlength=k)
    assert d.n_classes == k and len(counts) == k
    assert counts.max() - counts.min() <= 1 and counts.sum() == 500


@pytest.mark.parametrize("k", range(2, MAX_CLASSES + 1))
def test_blobs_are_separate_at_noise_0(k):
    # Each class's mean is its own center and nearest-center classification is almost perfect.
    d = generate("blobs", 600, classes=k)
    means = np.array([d.points[d.labels == c].mean(axis=0) for c in range(k)])
    radii = np.hypot(means[:, 0], means[:, 1])
    assert np.allclose(radii, 2 * math.sqrt(2), atol=0.35)
    nearest = np.argmin(((d.points[:, None, :] - means[None]) ** 2).sum(-1), axis=1)
    assert np.mean(nearest == d.labels) > 0.95


def test_two_blobs_sit_where_gauss_does():
    d = generate("blobs", 2000, classes=2)
    assert np.allclose(d.points[d.labels == 1].mean(axis=0), [2, 2], atol=0.1)
    assert np.allclose(d.points[d.labels == 0].mean(axis=0), [-2, -2], atol=0.1)


# -------------------------------------------------------------------------- determinism

@pytest.mark.parametrize("name", DATASETS)
def test_same_seed_same_data(name):
    a = generate(name, 200, noise=20, seed=7, classes=3)
    b = generate(name, 200, noise=20, seed=7, classes=3)
    assert np.array_equal(a.points, b.points)
    assert np.array_equal(a.labels, b.labels)
    assert np.array_equal(a.is_train, b.is_train)


@pytest.mark.parametrize("name", DATASETS)
def test_different_seed_different_data(name):
    a = generate(name, 200, noise=20, seed=7, classes=3)
    b = generate(name, 200, noise=20, seed=8, classes=3)
    assert not np.array_equal(a.points, b.points)


def test_seed_uses_stream_0():
    # The documented recipe: the generators draw from default_rng([seed, 0]).
    rng = np.random.default_rng([5, 0])
    points = rng.uniform(-6, 6, (50, 2))
    shifts = rng.uniform(-6, 6, (50, 2)) * 0.1
    order = rng.permutation(50)
    d = generate("plane", 50, noise=10, seed=5)
    assert np.array_equal(d.points, points[order])
    assert np.allclose(d.labels, ((points + shifts).sum(axis=1) / 10)[order])


# -------------------------------------------------------------------------------- noise

def _class_spread(d: DataSet) -> float:
    """Mean per-class standard deviation of the coordinates."""
    return float(np.mean([d.points[d.labels == c].std(axis=0).mean()
                          for c in range(d.n_classes)]))


def test_gauss_noise_is_tf_variance():
    # TF: variance = linear map of noise/100 from [0, 0.5] to [0.5, 4], std = sqrt(variance).
    for slider, variance in [(0, 0.5), (25, 2.25), (50, 4.0)]:
        d = generate("gauss", 4000, noise=slider)
        assert _class_spread(d) == pytest.approx(math.sqrt(variance), rel=0.05)


def test_gauss_noise_increases_overlap():
    def wrong_side(noise):  # class-1 points (center (2,2)) on class 0's side of x1 + x2 = 0
        d = generate("gauss", 2000, noise=noise)
        return np.mean(d.points[d.labels == 1].sum(axis=1) < 0)
    overlaps = [wrong_side(noise) for noise in (0, 25, 50)]
    assert overlaps[0] < 0.001 < overlaps[1] < overlaps[2]
    assert overlaps[2] > 0.05


@pytest.mark.parametrize("name,classes", [("moons", 2), ("blobs", 3), ("blobs", 6)])
def test_noise_widens_moons_and_blobs(name, classes):
    spreads = [_class_spread(generate(name, 1500, noise=noise, classes=classes))
               for noise in (0, 25, 50)]
    assert spreads[0] < spreads[1] < spreads[2]


def test_moons_at_noise_0_lie_on_two_half_circles():
    d = generate("moons", 300)
    unit = d.points / data.MOONS_SCALE + (0.5, 0.25)
    upper, lower = unit[d.labels == 0], unit[d.labels == 1]
    assert np.allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0)
    assert (upper[:, 1] >= -1e-12).all()
    assert np.allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1.0)
    assert (lower[:, 1] <= 0.5 + 1e-12).all()


def test_spiral_noise_jitters_points_by_at_most_noise():
    clean, noisy = generate("spiral", 400, noise=0), generate("spiral", 400, noise=30)
    # The same seed gives the same shuffle, so points pair up; the jitter is uniform(-0.3, 0.3).
    jitter = noisy.points - clean.points
    assert np.abs(jitter).max() <= 0.3
    assert np.abs(jitter).max() > 0.25
    assert np.array_equal(noisy.labels, clean.labels)


@pytest.mark.parametrize("name,rule", [
    ("circle", lambda p: np.hypot(p[:, 0], p[:, 1]) < 2.5),
    ("xor", lambda p: p[:, 0] * p[:, 1] >= 0),
])
def test_noise_flips_labels_but_does_not_move_points(name, rule):
    # TF's circle and xor decide the label at a noise-shifted copy of the point.
    flips = []
    for noise in (0, 20, 50):
        d = generate(name, 1000, noise=noise)
        assert np.array_equal(d.points, generate(name, 1000, noise=0).points)
        flips.append(np.mean(d.labels != rule(d.points)))
    assert flips[0] == 0 and 0 < flips[1] < flips[2]


def test_noise_changes_regression_labels():
    clean, noisy = generate("plane", 500, noise=0), generate("plane", 500, noise=30)
    assert np.array_equal(clean.points, noisy.points)
    error = np.abs(noisy.labels - clean.labels)
    # Shift per axis is uniform(-6, 6) * 0.3, so the label moves by at most 2 * 1.8 / 10.
    assert 0 < error.max() <= 0.36


# -------------------------------------------------------------------------- TF label rules

def test_circle_labels_follow_tf_rule_at_noise_0():
    # TF: class drawn inside radius 2.5 (= 5 * 0.5) is +1, ring 3.5..5 is -1;
    # label = distance < 2.5.
    d = generate("circle", 1000, seed=3)
    radius = np.hypot(d.points[:, 0], d.points[:, 1])
    assert np.array_equal(d.labels, (radius < 2.5).astype(np.int64))
    assert radius[d.labels == 1].max() < 2.5
    assert radius[d.labels == 0].min() >= 3.5 and radius.max() <= 5.0


def test_xor_labels_follow_sign_rule_at_noise_0():
    d = generate("xor", 1000, seed=3)
    assert np.array_equal(d.labels, (np.sign(d.points[:, 0] * d.points[:, 1]) > 0).astype(int))


def test_gauss_class_1_is_the_positive_quadrant():
    d = generate("gauss", 1000)
    assert np.allclose(d.points[d.labels == 1].mean(axis=0), [2, 2], atol=0.15)
    assert np.allclose(d.points[d.labels == 0].mean(axis=0), [-2, -2], atol=0.15)


def test_spiral_at_noise_0_follows_tf_formula():
    # TF: r = i/(n/2)*5, t = 1.75 * i/(n/2) * 2 pi (+ pi for -1), x = r sin t, y = r cos t.
    n = 200
    d = generate("spiral", n)
    i = np.arange(n // 2)
    r, t = i / (n / 2) * 5, 1.75 * i / (n / 2) * 2 * np.pi
    for label, delta in [(1, 0.0), (0, np.pi)]:
        expected = np.column_stack([r * np.sin(t + delta), r * np.cos(t + delta)])
        got = d.points[d.labels == label]  # shuffled; each arm's radii are distinct
        got = got[np.argsort(np.hypot(got[:, 0], got[:, 1]))]
        assert np.allclose(got, expected)


def test_plane_labels_follow_tf_formula_at_noise_0():
    # TF: d3 scale domain [-10, 10] -> range [-1, 1] of x + y, i.e. (x + y) / 10.
    d = generate("plane", 500)
    assert np.allclose(d.labels, (d.points[:, 0] + d.points[:, 1]) / 10)
    assert np.abs(d.points).max() <= 6


def _tf_multigauss_label(x: float, y: float) -> float:
    """TF regressGaussian's getLabel, transcribed loop for loop."""
    gaussians = [(-4, 2.5, 1), (0, 2.5, -1), (4, 2.5, 1),
                 (-4, -2.5, -1), (0, -2.5, 1), (4, -2.5, -1)]
    label = 0.0
    for cx, cy, sign in gaussians:
        distance = math.hypot(x - cx, y - cy)
        scaled = min(max(1 - distance / 2, 0.0), 1.0)  # domain [0, 2] -> range [1, 0], clamped
        if abs(sign * scaled) > abs(label):
            label = sign * scaled
    return label


def test_multigauss_labels_follow_tf_formula_at_noise_0():
    d = generate("multigauss", 500)
    expected = [_tf_multigauss_label(x, y) for x, y in d.points]
    assert np.allclose(d.labels, expected)
    assert (d.labels > 0).any() and (d.labels < 0).any() and (d.labels == 0).any()


def test_multigauss_label_at_centres():
    centres = np.array([[-4, 2.5], [0, 2.5], [4, -2.5], [20, 20], [-4, 1.5]])
    assert np.allclose(data.multigauss_label(centres), [1, -1, -1, 0, 0.5])


# ------------------------------------------------------------------------------- split

@pytest.mark.parametrize("n,ratio,expected", [
    (500, 50, 250), (500, 70, 350), (101, 50, 50), (99, 10, 9), (10, 90, 9),
    (10, 0, 1), (10, 100, 9), (2, 50, 1), (3, 1, 1),
])
def test_train_ratio_gives_tf_count(n, ratio, expected):
    # TF: floor(n * ratio / 100) training points; we keep at least one of each kind.
    d = generate("circle", n, train_ratio=ratio)
    assert d.is_train.sum() == expected


def test_split_is_shuffled_across_classes():
    d = generate("gauss", 500, train_ratio=50)
    assert 0.4 < np.mean(d.train_labels == 1) < 0.6


# ----------------------------------------------------------------------- generate errors

@pytest.mark.parametrize("kwargs,fragment", [
    (dict(name="moon"), "circle, xor"),
    (dict(name="circle", noise=51), "noise"),
    (dict(name="circle", noise=-1), "noise"),
    (dict(name="circle", noise=float("nan")), "noise"),
    (dict(name="circle", n_points=1), "at least 2"),
    (dict(name="circle", train_ratio=101), "train ratio"),
    (dict(name="blobs", classes=7), "2..6"),
    (dict(name="blobs", classes=1), "2..6"),
    (dict(name="blobs", classes=5, n_points=4), "at least 5 points"),
])
def test_generate_refuses_bad_arguments(kwargs, fragment):
    with pytest.raises(DataError) as err:
        generate(**kwargs)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_classes_ignored_except_for_blobs():
    assert generate("circle", 50, classes=5).n_classes == 2
    assert generate("plane", 50, classes=5).n_classes == 0


# ------------------------------------------------------------------------------ features

def test_feature_matrix_matches_formulas():
    points = np.array([[0.5, -2.0], [3.0, 1.5], [-6.0, 0.0]])
    x1, x2 = points[:, 0], points[:, 1]
    expected = {"x1": x1, "x2": x2, "x1^2": x1 ** 2, "x2^2": x2 ** 2, "x1*x2": x1 * x2,
                "sin(x1)": np.sin(x1), "sin(x2)": np.sin(x2)}
    matrix = feature_matrix(points, FEATURES)
    assert matrix.shape == (3, len(FEATURES)) and matrix.dtype == np.float64
    for j, name in enumerate(FEATURES):
        assert np.allclose(matrix[:, j], expected[name]), name


def test_feature_matrix_keeps_given_order():
    points = np.array([[2.0, 3.0]])
    assert feature_matrix(points, ["x1*x2", "x2", "x1^2"]).tolist() == [[6.0, 3.0, 4.0]]
    assert feature_matrix(points, []).shape == (1, 0)


def test_feature_matrix_refuses_unknown_name():
    with pytest.raises(DataError, match=r"'x3'.*choose from x1, x2"):
        feature_matrix(np.zeros((2, 2)), ["x1", "x3"])


# ----------------------------------------------------------------------------------- CSV

@pytest.mark.parametrize("name,classes", [("spiral", 2), ("blobs", 5), ("multigauss", 2),
                                          ("plane", 2)])
def test_csv_round_trip(tmp_path, name, classes):
    original = generate(name, 120, noise=15, seed=4, classes=classes, train_ratio=30)
    stream = io.StringIO()
    write_csv(original, stream)
    text = stream.getvalue()
    assert text.splitlines()[0] == "x1,x2,label,split"
    assert len(text.splitlines()) == 121
    path = tmp_path / f"{name}.csv"
    path.write_text(text)
    loaded = load_csv(path, train_ratio=80, seed=99)  # the split column wins over these
    assert loaded.name == f"{name}.csv"
    assert np.array_equal(loaded.points, original.points)  # exact: repr precision
    assert np.array_equal(loaded.labels, original.labels)
    assert loaded.labels.dtype == original.labels.dtype
    assert np.array_equal(loaded.is_train, original.is_train)
    assert loaded.n_classes == original.n_classes


def test_csv_writes_class_labels_as_integers():
    stream = io.StringIO()
    write_csv(generate("xor", 12), stream)
    labels = {line.split(",")[2] for line in stream.getvalue().splitlines()[1:]}
    assert labels == {"0", "1"}


def _write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _rows(n, label=lambda i: i % 2):
    return "".join(f"{i * 0.1},{-i * 0.2},{label(i)}\n" for i in range(n))


def test_csv_columns_in_any_order_with_extras(tmp_path):
    lines = ["note,label,x2,x1"] + [f"p{i},{[-1, 1][i % 2]},{i}.5,{-i}" for i in range(12)]
    d = load_csv(_write(tmp_path, "\n".join(lines) + "\n"))
    assert d.points[3].tolist() == [-3.0, 3.5]
    assert d.labels.tolist() == [i % 2 for i in range(12)]  # -1, 1 -> 0, 1
    assert d.n_classes == 2 and d.labels.dtype == np.int64


def test_csv_header_case_spaces_bom_and_blank_lines(tmp_path):
    text = "\ufeff X1 , X2 ,Label\n\n" + _rows(11) + "\n\n"
    d = load_csv(_write(tmp_path, text))
    assert len(d.points) == 11


def test_csv_classes_remapped_in_sorted_order(tmp_path):
    values = [7, -3, 2, 7, -3, 2, 7, -3, 2, 2.0]  # 2.0 is a whole number too
    d = load_csv(_write(tmp_path, "x1,x2,label\n" + _rows(10, lambda i: values[i])))
    assert d.n_classes == 3
    assert d.labels.tolist() == [2, 0, 1, 2, 0, 1, 2, 0, 1, 1]


def test_csv_fractional_labels_make_regression(tmp_path):
    d = load_csv(_write(tmp_path, "x1,x2,label\n" + _rows(12, lambda i: i / 4)))
    assert d.is_regression and d.n_classes == 0 and d.labels.dtype == np.float64
    assert d.labels[5] == 1.25


def test_csv_split_follows_train_ratio_and_seed(tmp_path):
    path = _write(tmp_path, "x1,x2,label\n" + _rows(40))
    a, b = load_csv(path, train_ratio=30, seed=1), load_csv(path, train_ratio=30, seed=1)
    c = load_csv(path, train_ratio=30, seed=2)
    assert a.is_train.sum() == 12
    assert np.array_equal(a.is_train, b.is_train) and not np.array_equal(a.is_train, c.is_train)
    assert np.array_equal(a.points[:, 0], np.arange(40) * 0.1)  # file order is kept


def test_csv_split_column_sets_is_train(tmp_path):
    lines = ["x1,x2,label,split"] + [f"{i},{i},{i % 2},{'TRAIN' if i < 7 else ' test'}"
                                     for i in range(12)]
    d = load_csv(_write(tmp_path, "\n".join(lines)))
    assert d.is_train.tolist() == [True] * 7 + [False] * 5


def _csv_error(path) -> str:
    with pytest.raises(DataError) as err:
        load_csv(path)
    message = str(err.value)
    assert "\n" not in message
    return message


def test_csv_missing_file(tmp_path):
    assert "not found" in _csv_error(tmp_path / "nope.csv")


def test_csv_not_a_file(tmp_path):
    assert "not a file" in _csv_error(tmp_path)


@pytest.mark.parametrize("text", ["", "\n\n  \n"])
def test_csv_empty_file(tmp_path, text):
    assert "empty" in _csv_error(_write(tmp_path, text))


def test_csv_missing_header(tmp_path):
    assert "no header" in _csv_error(_write(tmp_path, _rows(12)))


def test_csv_missing_columns_are_named(tmp_path):
    message = _csv_error(_write(tmp_path, "x1,y,target\n" + _rows(12)))
    assert "lacks column(s) x2, label;" in message


def test_csv_semicolons_get_a_hint(tmp_path):
    message = _csv_error(_write(tmp_path, "x1;x2;label\n" + _rows(12).replace(",", ";")))
    assert "x1, x2, label" in message and "commas" in message


def test_csv_duplicate_column(tmp_path):
    assert "'x1' more than once" in _csv_error(_write(tmp_path, "x1,x1,x2,label\n1,2,3,4\n"))


def test_csv_non_numeric_value_names_row_and_column(tmp_path):
    lines = _rows(12).splitlines()
    lines[4] = "0.4,abc,0"  # the sixth line of the file: row 6, header being row 1
    message = _csv_error(_write(tmp_path, "x1,x2,label\n" + "\n".join(lines)))
    assert "row 6" in message and "column x2" in message and "'abc'" in message


def test_csv_empty_cell(tmp_path):
    lines = _rows(12).splitlines()
    lines[0] = "0.0,1.0,"
    message = _csv_error(_write(tmp_path, "x1,x2,label\n" + "\n".join(lines)))
    assert "row 2" in message and "column label" in message and "empty" in message


@pytest.mark.parametrize("bad", ["nan", "inf", "-Infinity"])
def test_csv_nan_and_inf_name_row_and_column(tmp_path, bad):
    lines = _rows(12).splitlines()
    lines[8] = f"{bad},1.0,1"
    message = _csv_error(_write(tmp_path, "x1,x2,label\n" + "\n".join(lines)))
    assert "row 10" in message and "column x1" in message and "finite" in message


def test_csv_ragged_row(tmp_path):
    lines = _rows(12).splitlines()
    lines[2] = "1,2"
    message = _csv_error(_write(tmp_path, "x1,x2,label\n" + "\n".join(lines)))
    assert "row 4" in message and "2 values" in message


def test_csv_too_few_rows(tmp_path):
    message = _csv_error(_write(tmp_path, "x1,x2,label\n" + _rows(MIN_CSV_ROWS - 1)))
    assert "9 data row" in message and f"at least {MIN_CSV_ROWS}" in message


def test_csv_enough_rows_at_the_minimum(tmp_path):
    assert len(load_csv(_write(tmp_path, "x1,x2,label\n" + _rows(MIN_CSV_ROWS))).points) == 10


def test_csv_too_many_classes(tmp_path):
    message = _csv_error(_write(tmp_path, "x1,x2,label\n" + _rows(14, lambda i: i % 7)))
    assert "7 classes" in message and f"at most {MAX_CLASSES}" in message


def test_csv_six_classes_allowed(tmp_path):
    d = load_csv(_write(tmp_path, "x1,x2,label\n" + _rows(12, lambda i: i % 6)))
    assert d.n_classes == 6


def test_csv_single_class(tmp_path):
    message = _csv_error(_write(tmp_path, "x1,x2,label\n" + _rows(12, lambda i: 1)))
    assert "only one class" in message


def test_csv_bad_split_value(tmp_path):
    lines = ["x1,x2,label,split"] + [f"{i},{i},{i % 2},{'train' if i else 'validate'}"
                                     for i in range(12)]
    message = _csv_error(_write(tmp_path, "\n".join(lines)))
    assert "row 2" in message and "split" in message and "'validate'" in message


def test_csv_split_without_test_rows(tmp_path):
    lines = ["x1,x2,label,split"] + [f"{i},{i},{i % 2},train" for i in range(12)]
    assert "no test rows" in _csv_error(_write(tmp_path, "\n".join(lines)))


def test_csv_not_utf8(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("x1,x2,label,café\n".encode("latin-1") + _rows(12).encode())
    assert "UTF-8" in _csv_error(path)
