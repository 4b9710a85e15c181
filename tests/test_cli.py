"""Tests for the ``nn-playground`` command line: train, data, and its error messages.

Most tests call :func:`playground.cli.main` in this process (start-up costs about a second
per command); one runs the installed console script through a subprocess.
"""
from __future__ import annotations

import csv
import io
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from playground.cli import main

SUMMARY_KEYS = {"epochs", "train_loss", "test_loss", "train_accuracy", "test_accuracy",
                "diverged", "backend", "seconds"}


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``nn-playground *argv`` run in this process."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def train_json(capsys, *argv) -> dict:
    """The summary that ``nn-playground train --json *argv`` prints as its last line."""
    code, out, err = run_cli(capsys, "train", "--json", *argv)
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert isinstance(summary, dict)
    return summary


def write_json(path: Path, values) -> Path:
    path.write_text(json.dumps(values))
    return path


def console_script() -> str:
    found = shutil.which("nn-playground") or str(Path(sys.executable).with_name("nn-playground"))
    assert Path(found).exists(), "the nn-playground console script is not installed"
    return found


# ----------------------------------------------------------------------------- the summary

def test_json_summary_is_last_line_with_required_keys(capsys):
    summary = train_json(capsys, "--dataset", "circle", "--epochs", 2, "--batch-size", 25,
                         "--backend", "reference")
    assert SUMMARY_KEYS <= summary.keys()
    assert summary["epochs"] == 2
    assert summary["steps"] == 2 * 250 // 25  # 500 points, half of them for training
    assert summary["backend"] == "reference"
    assert summary["diverged"] is False
    assert math.isfinite(summary["train_loss"]) and summary["train_loss"] > 0
    assert math.isfinite(summary["test_loss"]) and summary["test_loss"] > 0
    assert 0 <= summary["train_accuracy"] <= 1 and 0 <= summary["test_accuracy"] <= 1
    assert summary["seconds"] >= 0


def test_regression_summary_has_no_accuracy(capsys):
    summary = train_json(capsys, "--dataset", "plane", "--epochs", 1)
    assert summary["loss"] == "mse"
    assert summary["train_accuracy"] is None and summary["test_accuracy"] is None


def test_text_output_reports_the_run(capsys):
    code, out, err = run_cli(capsys, "train", "--dataset", "xor", "--epochs", 3, "--hidden", "3")
    assert code == 0, err
    assert "xor: 2-3-1 bce adam" in out
    assert "epoch 3: train loss" in out and "accuracy train" in out
    with pytest.raises(json.JSONDecodeError):
        json.loads(out.strip().splitlines()[-1])


def test_console_script_runs_in_a_subprocess():
    script = console_script()
    done = subprocess.run([script, "train", "--dataset", "gauss", "--epochs", "2",
                           "--learning-rate", "0.03", "--json"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert SUMMARY_KEYS <= summary.keys() and summary["epochs"] == 2
    assert summary["test_accuracy"] >= 0.9  # gauss is separable by a line
    bad = subprocess.run([script, "train", "--hidden", "8,x"], capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
    assert "--hidden" in bad.stderr


# -------------------------------------------------------------------------- config files

def test_json_config_uses_underscore_names(capsys, tmp_path):
    config = write_json(tmp_path / "run.json", {
        "dataset": "xor", "hidden": [3], "learning_rate": 0.02, "batch_size": 25, "epochs": 2,
        "train_ratio": 40, "optimizer": "momentum"})
    from_file = train_json(capsys, "--config", config)
    assert from_file["layer_sizes"] == [2, 3, 1]
    assert from_file["optimizer"] == "momentum"
    assert from_file["steps"] == 2 * 200 // 25  # 40 % of 500 points, batches of 25
    from_flags = train_json(capsys, "--dataset", "xor", "--hidden", "3", "--learning-rate", 0.02,
                            "--batch-size", 25, "--epochs", 2, "--train-ratio", 40,
                            "--optimizer", "momentum")
    assert from_file["train_loss"] == from_flags["train_loss"]
    assert from_file["test_loss"] == from_flags["test_loss"]


def test_flags_override_the_config_file(capsys, tmp_path):
    config = write_json(tmp_path / "run.json", {"dataset": "xor", "epochs": 5, "batch_size": 25,
                                                "optimizer": "sgd", "hidden": [3]})
    summary = train_json(capsys, "--config", config, "--epochs", 2, "--optimizer", "adam")
    assert summary["epochs"] == 2 and summary["optimizer"] == "adam"
    assert summary["steps"] == 2 * 250 // 25  # batch size still from the file
    assert summary["layer_sizes"] == [2, 3, 1]


@pytest.mark.parametrize("file_values, flags", [
    ({"hidden": [9], "epochs": 1}, ["--wide"]),
    ({"dataset": "plane", "loss": "bce", "epochs": 1}, ["--dataset", "circle"]),
], ids=["wide-flag", "dataset-flag"])
def test_flags_override_a_config_file_refused_on_its_own(capsys, tmp_path, file_values, flags):
    config = write_json(tmp_path / "run.json", file_values)
    code, out, err = run_cli(capsys, "train", "--json", "--config", config, *flags)
    assert code == 0, err


# ------------------------------------------------------------------------- what it learns

NET = ["--hidden", "8,8", "--activation", "tanh", "--optimizer", "adam", "--learning-rate", 0.03]


def test_spiral_learns(capsys):
    summary = train_json(capsys, "--dataset", "spiral", *NET, "--epochs", 300)
    assert summary["diverged"] is False
    assert summary["test_accuracy"] >= 0.9


@pytest.mark.parametrize("dataset", ["xor", "circle"])
def test_xor_and_circle_learn(capsys, dataset):
    summary = train_json(capsys, "--dataset", dataset, *NET, "--epochs", 30)
    assert summary["test_accuracy"] >= 0.95


@pytest.mark.parametrize("learning_rate, diverges", [(50, True), (0.01, False)])
def test_divergence_is_caught_and_explained(capsys, learning_rate, diverges):
    argv = ["--dataset", "plane", "--optimizer", "sgd", "--learning-rate", learning_rate,
            "--epochs", 20]
    summary = train_json(capsys, *argv)
    assert summary["diverged"] is diverges
    if diverges:
        assert "learning rate" in summary["message"] and "50" in summary["message"]
        assert summary["epochs"] < 20  # training stopped there
        code, out, err = run_cli(capsys, "train", *argv)  # the text output says it too
        assert code == 0 and "learning rate" in out.splitlines()[-1]
    else:
        assert summary["message"] == "" and summary["epochs"] == 20


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam", "rmsprop"])
def test_reference_and_cpu_backends_agree(capsys, optimizer):
    argv = ["--dataset", "spiral", "--hidden", "8,8", "--optimizer", optimizer,
            "--learning-rate", 0.03, "--epochs", 4, "--seed", 3]
    reference = train_json(capsys, *argv, "--backend", "reference")
    cpu = train_json(capsys, *argv, "--backend", "cpu")
    assert (reference["backend"], cpu["backend"]) == ("reference", "cpu")
    untrained = train_json(capsys, *argv[:-4], "--epochs", 0, "--seed", 3)
    assert abs(reference["train_loss"] - untrained["train_loss"]) > 1e-3  # it did train
    assert reference["train_loss"] == pytest.approx(cpu["train_loss"], rel=0, abs=1e-9)
    assert reference["test_loss"] == pytest.approx(cpu["test_loss"], rel=0, abs=1e-9)


# --------------------------------------------------------------------------- data command

DATA_ARGS = ["data", "--dataset", "spiral", "--noise", 10, "--points", 400, "--seed", 1]


def test_data_writes_csv(capsys):
    code, out, err = run_cli(capsys, *DATA_ARGS)
    assert code == 0, err
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["x1", "x2", "label", "split"]
    body = rows[1:]
    assert len(body) == 400
    assert {row[2] for row in body} == {"0", "1"}
    assert sum(row[3] == "train" for row in body) == 200
    assert {row[3] for row in body} == {"train", "test"}
    assert all(abs(float(row[0])) < 6 and abs(float(row[1])) < 6 for row in body)


def test_data_same_seed_same_output(capsys):
    first = run_cli(capsys, *DATA_ARGS)[1]
    again = run_cli(capsys, *DATA_ARGS)[1]
    other = run_cli(capsys, *DATA_ARGS[:-1], 2)[1]
    assert first == again
    assert other != first


def test_data_feeds_back_into_train(capsys, tmp_path):
    path = tmp_path / "spiral.csv"
    path.write_text(run_cli(capsys, *DATA_ARGS)[1])
    from_csv = train_json(capsys, "--csv", path, "--seed", 1, "--epochs", 3)
    generated = train_json(capsys, "--dataset", "spiral", "--noise", 10, "--points", 400,
                           "--seed", 1, "--epochs", 3)
    assert from_csv["steps"] == 3 * 200 // 10  # the file's split column: 200 training rows
    # Same points, labels, split, weights and batches: the same run.
    assert from_csv["train_loss"] == generated["train_loss"]
    assert from_csv["test_accuracy"] == generated["test_accuracy"]


# ----------------------------------------------------------------------------- bad input

def assert_one_line_error(code, out, err, *hints):
    assert code == 2
    assert out == ""
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert "Traceback" not in err
    assert err.startswith("nn-playground: error: ")
    for hint in hints:
        assert hint in err, f"{hint!r} not in {err!r}"


BAD_FLAGS = [
    # (argv after "train", words the message must contain)
    (["--dataset", "moon"], ["'moon'", "moons"]),
    (["--activation", "tahn"], ["'tahn'", "tanh"]),
    (["--activation", "relu,tahn", "--hidden", "4,4"], ["'tahn'", "relu"]),
    (["--optimizer", "adma"], ["'adma'", "adam"]),
    (["--loss", "cross"], ["'cross'", "ce"]),
    (["--hidden", "8,x"], ["--hidden", "8,8"]),
    (["--hidden", "-1"], ["--hidden", "1 to 8", "-1"]),
    (["--hidden", "0"], ["--hidden", "1 to 8"]),
    (["--hidden", "9"], ["--hidden", "got 9", "--wide"]),
    (["--hidden", "2000", "--wide"], ["--hidden", "1 to 1024"]),
    (["--hidden", "1,1,1,1,1,1,1"], ["--hidden", "7 layers", "at most 6"]),
    (["--activation", "relu,tanh", "--hidden", "4,4,4"], ["--activation", "one per hidden layer"]),
    (["--learning-rate", "0"], ["--learning-rate", "greater than 0"]),
    (["--learning-rate", "-0.1"], ["--learning-rate", "greater than 0"]),
    (["--learning-rate", "fast"], ["--learning-rate", "a number"]),
    (["--batch-size", "0"], ["--batch-size", "between 1"]),
    (["--batch-size", "-5"], ["--batch-size", "between 1"]),
    (["--noise", "51"], ["--noise", "between 0 and 50"]),
    (["--noise", "-1"], ["--noise", "between 0 and 50"]),
    (["--train-ratio", "5"], ["--train-ratio", "between 10 and 90"]),
    (["--train-ratio", "95"], ["--train-ratio", "between 10 and 90"]),
    (["--epochs", "1.5"], ["--epochs", "whole number"]),
    (["--dataset", "plane", "--loss", "bce"], ["--loss", "mse"]),
    (["--dataset", "blobs", "--classes", "3", "--loss", "mse"], ["--loss", "3 classes", "ce"]),
    (["--dataset", "blobs", "--classes", "3", "--loss", "bce"], ["--loss", "ce"]),
    (["--bogus"], ["--bogus"]),
]


@pytest.mark.parametrize("argv, hints", BAD_FLAGS, ids=[" ".join(a) for a, _ in BAD_FLAGS])
def test_bad_flag_is_one_clear_line(capsys, argv, hints):
    assert_one_line_error(*run_cli(capsys, "train", "--epochs", 1, *argv), *hints)


def test_wide_hint_only_where_wide_helps(capsys):
    """--wide allows more neurons, never fewer than one: no hint for -1."""
    err = run_cli(capsys, "train", "--hidden", "-1")[2]
    assert "--wide" not in err


def test_data_command_bad_flag_is_one_clear_line(capsys):
    assert_one_line_error(*run_cli(capsys, "data", "--dataset", "spirals"), "'spirals'", "spiral")


def rows(*lines) -> str:
    return "\n".join(lines) + "\n"


GOOD_ROWS = [f"{i / 2},{-i / 3},{i % 2}" for i in range(12)]

BAD_CSV = {
    # name: (file content, or None for no file; words the message must contain)
    "missing": (None, ["not found"]),
    "empty": ("", ["empty", "x1,x2,label"]),
    "header-only": (rows("x1,x2,label"), ["0 data row", "at least 10"]),
    "non-numeric": (rows("x1,x2,label", *GOOD_ROWS, "1.5,abc,0"), ["row 14", "x2", "'abc'",
                                                                   "not a number"]),
    "nan": (rows("x1,x2,label", *GOOD_ROWS, "nan,1,0"), ["row 14", "x1", "finite"]),
    "too-few-rows": (rows("x1,x2,label", *GOOD_ROWS[:5]), ["5 data row", "at least 10"]),
    "seven-classes": (rows("x1,x2,label", *[f"{i},{i},{i % 7}" for i in range(14)]),
                      ["7 classes", "at most 6"]),
    "no-label-column": (rows("x1,x2", *[f"{i},{i}" for i in range(12)]), ["label"]),
}


@pytest.mark.parametrize("case", list(BAD_CSV))
def test_bad_csv_is_one_clear_line(capsys, tmp_path, case):
    content, hints = BAD_CSV[case]
    path = tmp_path / f"{case}.csv"
    if content is not None:
        path.write_text(content)
    assert_one_line_error(*run_cli(capsys, "train", "--epochs", 1, "--csv", path), *hints)


def test_good_csv_trains(capsys, tmp_path):
    """The control for the bad files: the same rows, nothing wrong, train."""
    path = tmp_path / "good.csv"
    path.write_text(rows("x1,x2,label", *GOOD_ROWS))
    summary = train_json(capsys, "--csv", path, "--epochs", 1)
    assert summary["steps"] == 1  # 6 training rows in one batch of 10


BAD_CONFIG = {
    # name: (file text, words the message must contain)
    "broken-json": ('{"epochs": 3,', ["not valid JSON", "line"]),
    "not-an-object": ("[1, 2]", ["one JSON object"]),
    "unknown-key": ('{"learnin_rate": 0.1}', ["'learnin_rate'", "learning_rate"]),
    "dashed-key": ('{"learning-rate": 0.1}', ["'learning-rate'", "learning_rate"]),
    "bad-number": ('{"epochs": -3}', ["'epochs'", "between 0"]),
    "not-a-number": ('{"noise": "lots"}', ["'noise'", "a number"]),
    "bad-choice": ('{"optimizer": "adma"}', ["'adma'", "adam"]),
    "bad-hidden": ('{"hidden": [8, "x"]}', ["'hidden'", "whole numbers"]),
    "loss-misfit": ('{"dataset": "plane", "loss": "ce"}', ["'loss'", "mse"]),
}


@pytest.mark.parametrize("case", list(BAD_CONFIG))
def test_bad_config_file_is_one_clear_line(capsys, tmp_path, case):
    text, hints = BAD_CONFIG[case]
    path = tmp_path / "run.json"
    path.write_text(text)
    assert_one_line_error(*run_cli(capsys, "train", "--config", path), "run.json", *hints)


def test_missing_config_file_is_one_clear_line(capsys, tmp_path):
    assert_one_line_error(*run_cli(capsys, "train", "--config", tmp_path / "nope.json"),
                          "nope.json", "not found")
