"""Save and resume: a session continues exactly where it stopped."""
import json

import numpy as np
import pytest

from playground.cli import main
from playground.config import RunConfig
from playground.session import Session
from playground.snapshot import SnapshotError, export_session, import_session


def spiral(backend="cpu", optimizer="adam"):
    return Session(RunConfig.from_values({"dataset": "spiral", "hidden": "6,4", "learning_rate": "0.02",
                                          "backend": backend, "optimizer": optimizer, "batch_size": "7"}))


@pytest.mark.parametrize("backend", ["reference", "cpu"])
@pytest.mark.parametrize("optimizer", ["adam", "rmsprop", "nesterov"])
def test_resumed_session_continues_exactly(backend, optimizer):
    original = spiral(backend, optimizer)
    original.advance(53)  # mid-epoch: the shuffle position must survive too
    copy = import_session(json.loads(json.dumps(export_session(original))))
    assert copy.step == original.step and copy.epoch == original.epoch
    assert copy.history == original.history
    a, b = original.advance(200), copy.advance(200)
    np.testing.assert_array_equal(a.params, b.params)
    assert a.train_loss == b.train_loss


def test_a_fresh_session_would_not_continue_the_same_way():
    original = spiral()
    original.advance(53)
    snapshot = export_session(original)
    snapshot["batches"]["batch_in_epoch"] = 0  # lose the place in the epoch
    copy = import_session(json.loads(json.dumps(snapshot)))
    assert not np.array_equal(original.advance(50).params, copy.advance(50).params)


def broken(change):
    snapshot = json.loads(json.dumps(export_session(spiral())))
    change(snapshot)
    return snapshot


@pytest.mark.parametrize("change, hint", [
    (lambda s: s.update(format="something else"), "not an nn-playground session"),
    (lambda s: s.update(version=99), "version 99"),
    (lambda s: s["params"].pop(), "needs"),
    (lambda s: s["state1"].__setitem__(0, float("nan")), "non-finite"),
    (lambda s: s["settings"].update(noise=500), "noise"),
    (lambda s: s["settings"].update(hidden=[2]), "needs"),
    (lambda s: s["batches"].update(epoch_order=[0, 0, 1]), "broken training state"),
    (lambda s: s.pop("data"), "data set"),
])
def test_bad_files_are_explained(change, hint):
    with pytest.raises(SnapshotError, match=hint):
        import_session(broken(change))


def test_cli_save_then_resume_equals_one_long_run(tmp_path, capsys):
    flags = ["--dataset", "xor", "--hidden", "4", "--learning-rate", "0.05"]
    saved = tmp_path / "run.json"
    assert main(["train", *flags, "--epochs", "20", "--save", str(saved), "--json"]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(saved), "--epochs", "15", "--json"]) == 0
    resumed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert main(["train", *flags, "--epochs", "35", "--json"]) == 0
    straight = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert resumed["epochs"] == straight["epochs"] == 35
    assert resumed["train_loss"] == straight["train_loss"]


@pytest.mark.parametrize("args, hint", [
    (["--hidden", "3"], "cannot change a resumed session"),
    (["--resume-missing"], "unrecognized"),
])
def test_resume_refuses_structural_flags(tmp_path, capsys, args, hint):
    saved = tmp_path / "run.json"
    assert main(["train", "--epochs", "1", "--save", str(saved)]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(saved), *args]) == 2
    err = capsys.readouterr().err
    assert hint in err and err.count("\n") == 1


def test_resume_of_a_missing_or_broken_file(tmp_path, capsys):
    assert main(["train", "--resume", str(tmp_path / "nope.json")]) == 2
    assert "not found" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text("{")
    assert main(["train", "--resume", str(tmp_path / "bad.json")]) == 2
    assert "not valid JSON" in capsys.readouterr().err
