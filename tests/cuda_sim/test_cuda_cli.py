"""``nn-playground train --backend cuda`` (GPU or simulator): the same losses as cpu."""
import json
import os

import pytest

pytest.importorskip("numba_cuda", reason="numba-cuda is not installed: pip install 'nn-playground[cuda]'")

from playground.cli import main  # noqa: E402


def train_json(capsys, *argv) -> dict:
    code = main(["train", "--json", *map(str, argv)])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.parametrize("optimizer", ["adam", "momentum"])
def test_cuda_float64_trains_like_cpu(capsys, optimizer):
    argv = ["--dataset", "xor", "--points", 40, "--batch-size", 8, "--hidden", "4,3",
            "--activation", "tanh", "--optimizer", optimizer, "--learning-rate", 0.03,
            "--epochs", 4, "--seed", 3, "--dtype", "float64"]
    cuda = train_json(capsys, *argv, "--backend", "cuda")
    cpu = train_json(capsys, *argv, "--backend", "cpu")
    untrained = train_json(capsys, *argv[:-6], "--epochs", 0, "--seed", 3, "--backend", "cpu")
    assert (cuda["backend"], cpu["backend"], cuda["steps"]) == ("cuda", "cpu", 4 * 3)
    assert abs(cpu["train_loss"] - untrained["train_loss"]) > 1e-3  # it did train
    assert cuda["train_loss"] == pytest.approx(cpu["train_loss"], rel=0, abs=1e-9)
    assert cuda["test_loss"] == pytest.approx(cpu["test_loss"], rel=0, abs=1e-9)


def test_auto_backend_is_cuda_here_for_a_wide_net_only(capsys):
    summary = train_json(capsys, "--dataset", "circle", "--points", 20, "--wide", "--hidden", "9",
                         "--epochs", 1, "--dtype", "float32")
    assert summary["backend"] == "cuda" and summary["dtype"] == "float32"
    tiny = train_json(capsys, "--dataset", "circle", "--points", 20, "--hidden", "8", "--epochs", 1)
    assert tiny["backend"] == "cpu"


@pytest.mark.skipif(os.environ.get("NUMBA_ENABLE_CUDASIM", "0") in ("", "0"), reason="simulator only")
def test_bench_leaves_the_simulator_out():
    from playground.cli import bench

    assert "simulator" in bench.cuda_missing()
    records, notes = bench.sweep(sizes=(), max_calls=1)  # engines only: no cuda column here
    assert records == [] and any("no cuda column" in note for note in notes)


def test_sweep_cuda_engine_computes_the_product(monkeypatch):
    """The sweep's cuda column, on a simulator-sized product (4x4 tiles, not 16x16)."""
    import numpy as np

    from kernels import cuda as kc
    from playground.cli import bench

    monkeypatch.setattr(bench, "cuda_missing", lambda: None)
    monkeypatch.setattr(kc.matmul, "__defaults__", (False, False, 4))  # trans_a, trans_b, tile
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((6, 5), np.float32), rng.standard_normal((5, 7), np.float32)
    call, result = bench._sweep_engines()["cuda"](A, B)
    call()
    np.testing.assert_allclose(result(), A.astype(np.float64) @ B, rtol=1e-5, atol=1e-5)
