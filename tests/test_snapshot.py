"""Save and resume: a session continues exactly where it stopped."""
import json

import numpy as np
import pytest

from playground.cli import main
from playground.core.config import RunConfig
from playground.core.session import Session
from playground.core.snapshot import SnapshotError, export_session, import_session


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
    (lambda s: s["batches"].update(epoch_order=[0, 0, 1]), "not a shuffle"),
    (lambda s: s.pop("data"), "data set"),
    # every field of the training state, as a hand-edited file might have it
    (lambda s: s["batches"].update(batch_in_epoch=-7), "'batch_in_epoch'"),
    (lambda s: s["batches"].update(batch_in_epoch=10**6), "'batch_in_epoch'"),
    (lambda s: s["batches"].update(batch_in_epoch=1.5), "'batch_in_epoch'"),
    (lambda s: s["batches"].update(epoch_order=list(range(-1, len(s["batches"]["epoch_order"]) - 1))),
     "not a shuffle"),
    (lambda s: s["batches"].update(epoch_order=[10**9] * len(s["batches"]["epoch_order"])), "not a shuffle"),
    (lambda s: s["batches"].update(rng={"bit_generator": "PCG64", "state": "x"}), "batches.rng"),
    (lambda s: s["batches"].update(rng=[1, 2]), "batches.rng"),
    (lambda s: s.update(batches=7), "minibatch state"),
    (lambda s: s.update(optimizer_step=-1), "'optimizer_step'"),
    (lambda s: s.update(optimizer_step="3"), "'optimizer_step'"),
    (lambda s: s.update(step=1e308), "'step'"),
    (lambda s: s.update(step=True), "'step'"),
    (lambda s: s["data"].update(labels=[99] * len(s["data"]["labels"])), "classes 0 to 1"),
    (lambda s: s["data"].update(labels=[-1] * len(s["data"]["labels"])), "classes 0 to 1"),
    (lambda s: s["data"].update(labels=s["data"]["labels"][:-1]), "as many"),
    (lambda s: s["data"].update(n_classes=-3), "'n_classes'"),
    (lambda s: s["data"].update(n_classes=99), "'n_classes'"),
    (lambda s: s["data"].update(is_train=[False] * len(s["data"]["is_train"])), "no training points"),
    (lambda s: s["data"].update(is_train="yes"), "is_train"),
    (lambda s: s["data"].update(points=[[1e308, 0]] * len(s["data"]["points"])), "beyond"),
    (lambda s: s["data"].update(points=[[0, 0, 0]] * len(s["data"]["points"])), "pairs"),
    (lambda s: s["data"].update(points="abc"), "pairs"),
    (lambda s: s["data"].update(name=["x"]), "name"),
    (lambda s: s["params"].__setitem__(0, "1"), "other than a number"),
    (lambda s: s["params"].__setitem__(0, 10**400), "too large"),
    (lambda s: s["data"]["labels"].__setitem__(0, 10**400), "too large"),
    (lambda s: s["history"].update(epoch=s["history"]["epoch"] + [1.0]), "equally long"),
    (lambda s: s["history"].update(train_loss="abc"), "history.train_loss"),
    (lambda s: s.update(history=None), "loss history"),
    (lambda s: s.update(diverged="no"), "'diverged'"),
    (lambda s: s.update(message=["<b>"]), "'message'"),
    (lambda s: s.update(message="x" * 100_000), "'message'"),
    (lambda s: s.update(settings="x"), "no settings"),
])
def test_bad_files_are_explained(change, hint):
    with pytest.raises(SnapshotError, match=hint):
        import_session(broken(change))


def test_an_edited_batch_position_is_refused_and_the_kernels_check_their_indices():
    """The crash of issue 22: batch_in_epoch -7 made negative batch bounds, and the cpu kernels
    read outside their arrays (signal 11). Refused at the file, and again at the kernel edge."""
    with pytest.raises(SnapshotError, match="batch_in_epoch"):
        import_session(broken(lambda s: s["batches"].update(batch_in_epoch=-7)))
    session = spiral()
    n = len(session.X_train)
    for order, bounds in [([0, 1, n], [0, 3]), ([0, -1], [0, 2]), ([0, 1], [-7, 2]), ([0, 1], [0, 5]),
                          ([0, 1], [0, 2, 1])]:
        with pytest.raises(ValueError, match="sample_order|batch_bounds"):
            session.backend.train(session.X_train, session.T_train, np.array(order), np.array(bounds),
                                  session.config.optimizer_settings())
    with pytest.raises(ValueError, match="X must be"):
        session.backend.logits(np.zeros((4, 5)))


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
