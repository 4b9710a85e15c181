"""Bounded work in a shared server: no setting a page can send makes one frame, one link or
one imported file cost unbounded CPU or memory (the bounds live in playground.core.config)."""
from __future__ import annotations

import json

import pytest

from playground.core.config import MAX_FRAME_WORK, MAX_HISTORY_POINTS, ConfigError, RunConfig
from playground.server.serving import MAX_MESSAGE_BYTES
from playground.core.session import Session
from playground.core.snapshot import MAX_BYTES, SnapshotError, export_session, import_session


def test_frame_steps_cap_the_work_of_a_frame_and_leave_light_settings_alone():
    assert RunConfig.frame_steps(500, 10, 25) == 500  # the default net at 20 epochs a frame
    heavy = RunConfig.frame_steps(360_000, 1, 393)  # 6x8 net, 18,000 points, batch 1, 20 epochs
    assert 1 <= heavy < 360_000 and heavy * 393 <= MAX_FRAME_WORK
    assert RunConfig.frame_steps(20, 20_000, 393) == 1  # one step is the least a frame trains
    assert RunConfig.frame_steps(0, 10, 25) == 1


def test_a_link_cannot_ask_for_a_wide_network_or_a_server_file():
    config = RunConfig()
    problems = config.apply_query({"wide": "true", "hidden": "1024,1024", "csv": "/etc/passwd", "noise": "10"})
    assert not config.wide and config.csv is None and config.hidden == [4, 2] and config.noise == 10
    assert any("'wide' cannot be set from a link" in p for p in problems), problems
    assert any("'csv' cannot be set from a link" in p for p in problems), problems
    assert any("1024" in p for p in problems), problems


def _snapshot(**settings):
    return export_session(Session(RunConfig(epochs=1, **settings)))


def test_an_uploaded_session_is_held_to_the_app_limits():
    wide = _snapshot(wide=True, hidden=[16])
    with pytest.raises(SnapshotError, match="wide networks"):
        import_session(wide, served=True)
    assert import_session(wide).spec.layer_sizes[1] == 16  # the command line may resume it

    big = _snapshot(points=100)
    for key in ("points", "labels", "is_train"):
        big["data"][key] = big["data"][key] * 300  # 30,000 points
    with pytest.raises(SnapshotError, match="at most 20,000"):
        import_session(big, served=True)

    long = _snapshot()
    long["history"] = {k: [0.5] * (MAX_HISTORY_POINTS + 1) for k in ("epoch", "train_loss", "test_loss")}
    with pytest.raises(SnapshotError, match="loss history"):
        import_session(long, served=True)


def test_check_served_refuses_only_wide():
    RunConfig(hidden=[8] * 6, points=20_000, batch_size=1).check_served()
    with pytest.raises(ConfigError):
        RunConfig(wide=True).check_served()


def test_the_largest_accepted_file_fits_in_one_websocket_message():
    encoded = 4 * (-(-MAX_BYTES // 3))  # base64
    assert encoded + 1_000_000 < MAX_MESSAGE_BYTES
    assert MAX_MESSAGE_BYTES < 64 * 1024 * 1024
