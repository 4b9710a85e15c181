"""Hostile input without a browser (issues 16 and 22): what a crafted file, link, upload or
request does. Each must end in one line that says what is wrong, the server up and the
session unchanged; text from outside reaches the page escaped."""
from __future__ import annotations

import json
import time

import numpy as np
import pytest

from playground.ui.page import Playground
from playground.core.config import ConfigError, RunConfig
from playground.core.data import DataError, load_csv
from playground.core.json_input import nesting_depth, parse_json, read_capped
from playground.core.session import Session
from playground.core.snapshot import SnapshotError, export_session
from playground.ui.views.text import as_text, error_html, notice_html

MARKUP = "<img src=x onerror=alert(21)>"


def test_text_helpers_escape_everything_they_are_given():
    for html in (as_text(MARKUP), error_html(MARKUP, prefix=MARKUP), notice_html(MARKUP, title=MARKUP)):
        assert "<img" not in html and "&lt;img src=x onerror=alert(21)&gt;" in html


@pytest.mark.parametrize("raw, hint", [
    (b"[" * 100_000 + b"]" * 100_000, "100000 deep"),
    (b'{"a": ' + b"1" * 5000 + b"}", "4300 digits"),
    (b'{"a": NaN}', "NaN"),
    (b"", "empty"),
    (b"   \n", "empty"),
    (b"\xff\xfe{}", "UTF-8"),
    (b"{not json", "not valid JSON"),
    (b"x" * 101, "larger than"),
])
def test_bad_json_is_refused_quickly_in_one_line(raw, hint):
    started = time.perf_counter()
    with pytest.raises(SnapshotError, match=hint) as caught:
        parse_json(raw, "this file", SnapshotError, max_bytes=100 if len(raw) > 100 and raw[0:1] == b"x" else 10**6)
    assert time.perf_counter() - started < 2.0 and "\n" not in str(caught.value)


def test_brackets_inside_strings_do_not_count_as_nesting():
    assert nesting_depth(b'{"a": "[[[[[[[[{{{{\\"]]", "b": [[1]]}') == 3
    assert parse_json(b'{"a": "' + b"[" * 50 + b'"}', "f", ValueError, 10**6) == {"a": "[" * 50}


def test_files_are_read_with_a_byte_cap_not_a_stat(tmp_path):
    with pytest.raises(ConfigError, match="larger than 0.001 MB"):
        read_capped("/dev/zero", "config file /dev/zero", ConfigError, 1000)  # st_size is 0; it never ends
    with pytest.raises(ConfigError, match="is a folder"):
        read_capped(tmp_path, f"config file {tmp_path}", ConfigError, 1000)


def test_a_csv_with_huge_numbers_or_too_many_bytes_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "huge.csv"
    path.write_text("x1,x2,label\n" + "1e308,-1e308,0\n" * 5 + "0,0,1\n" * 5)
    with pytest.raises(DataError, match="row 2, column x1.*finite number from -1e\\+06 to 1e\\+06"):
        load_csv(path)
    sparse = tmp_path / "sparse.csv"
    with open(sparse, "wb") as stream:
        stream.truncate(10_000)  # zeros the disk does not hold: read, not stat, finds the size
    monkeypatch.setattr("playground.core.data.MAX_CSV_BYTES", 1000)
    with pytest.raises(DataError, match="larger than"):
        load_csv(sparse)


@pytest.fixture
def app():
    app = Playground()
    app.loop.step_once()
    return app


def _state(app):
    return app.session.step, app.session.backend.get_params().tolist(), app.notice.object


def _snapshot(app, change):
    snapshot = json.loads(json.dumps(export_session(app.session)))
    change(snapshot)
    return json.dumps(snapshot).encode()


@pytest.mark.parametrize("raw, hint", [
    (b"[" * 100_000 + b"]" * 100_000, "nests lists or objects"),
    (b'{"format": "nn-playground-session", "version": ' + b"9" * 5000 + b"}", "4300 digits"),
    (b"", "empty"),
    ("not bytes but text", "not valid JSON"),
    (["a", "list"], "did not arrive as one file"),
])
def test_an_import_that_cannot_be_parsed_says_so_and_changes_nothing(app, raw, hint):
    before = _state(app)[:2]
    app.files.import_session(raw)
    assert "Import failed" in app.notice.object and hint in app.notice.object, app.notice.object
    assert _state(app)[:2] == before


@pytest.mark.parametrize("change, hint", [
    (lambda s: s["batches"].update(batch_in_epoch=-7), "batch_in_epoch"),
    (lambda s: s["data"].update(labels=[99] * len(s["data"]["labels"])), "classes 0 to 1"),
    (lambda s: s["data"].update(n_classes=-3), "n_classes"),
    (lambda s: s["data"].update(is_train=[False] * len(s["data"]["is_train"])), "no training points"),
    (lambda s: s.update(step=1e308), "&#x27;step&#x27;"),
    (lambda s: s.update(optimizer_step=-1), "optimizer_step"),
])
def test_a_crafted_session_file_is_refused_and_the_session_goes_on(app, change, hint):
    before = _state(app)[:2]
    app.files.import_session(_snapshot(app, change))
    assert "Import failed" in app.notice.object and hint in app.notice.object, app.notice.object
    assert _state(app)[:2] == before
    app.loop.step_once()  # and it still trains
    assert app.session.step > before[0]


def test_markup_in_a_session_file_reaches_the_notice_as_text(app):
    app.files.import_session(_snapshot(app, lambda s: s.update(diverged=True, message=MARKUP)))
    assert "<img" not in app.notice.object and "&lt;img src=x onerror=alert(21)&gt;" in app.notice.object


def test_a_refused_file_from_the_page_is_explained(app):
    app.files.refuse_file(app.files.import_input.accept, "big.json", 31_457_280)
    assert "Import failed: big.json is 31.5 MB; a session file may be up to 20 MB." in app.notice.object
    app.files.refuse_file(app.upload.input.accept, MARKUP, 3_000_000)
    message = app.upload.message.object
    assert "Not loaded:" in message and "3.0 MB" in message and "<img" not in message
    # a page may send anything: malformed reports are ignored
    before = app.notice.object
    for msg in ({"accept": "x", "name": "a", "bytes": 1}, {"accept": ".json", "name": 3, "bytes": 1},
                {"accept": ".json", "name": "a", "bytes": True}, "garbage", None, [1, 2]):
        app.files.upload_limit._handle_msg(msg)
    assert app.notice.object == before


def test_a_link_with_a_very_long_number_is_refused_in_a_short_line():
    config = RunConfig()
    problems = config.apply_query({"learning_rate": "1" * 5000, "hidden": "9" * 5000, "seed": "7" * 5000})
    assert len(problems) == 3 and all(len(p) < 200 for p in problems), problems
    assert config.learning_rate is None and config.hidden == [4, 2] and config.seed == 0


def test_a_link_never_carries_none_for_an_unset_hyperparameter():
    """After importing a session that kept torch's default learning rate (None), the link read
    learning_rate=None, and reopening it was refused."""
    from playground.ui.page import default_config

    config = RunConfig(learning_rate=None, optimizer="sgd")
    query = config.query(default_config())
    assert "None" not in query.values() and query["learning_rate"] == "0.001"
    reopened = RunConfig()
    assert reopened.apply_query(query) == [] and reopened.optimizer_settings() == config.optimizer_settings()


@pytest.mark.parametrize("query, control, shown", [
    ({"learning_rate": "0.05"}, "learning_rate", 0.05), ({"regularization": "l2", "reg_rate": "0.02"}, "reg_rate", 0.02),
    ({"loss": "ce"}, "loss", "ce")])
def test_a_linked_value_the_control_lacks_is_offered_and_shown(query, control, shown):
    """A select shows its first choice for a value it lacks (the page read a learning rate of
    1e-05 while training used 0.05; loss=ce on two classes read bce)."""
    app = Playground(query=query)
    select = getattr(app.controls, control)
    assert app.notice.object == "" and select.value == shown and shown in select.options
    assert list(select.options) == sorted(select.options) or control == "loss"


def test_a_linked_batch_beyond_the_slider_widens_it_and_an_import_too():
    app = Playground(query={"batch_size": "64"})
    assert app.controls.batch_size.value == 64 and app.controls.batch_size.end >= 64
    app.config.batch_size = 200  # as an imported session sets it
    assert app.controls.batch_size.value == 200 and app.controls.batch_size.end >= 200


def test_cross_entropy_on_two_classes_trains_two_softmax_outputs():
    app = Playground(query={"loss": "ce"})
    assert app.session.spec.layer_sizes[-1] == 2 and app.controls.loss.value == "ce"
    app.step(5)
    assert app.session.history["train_loss"][-1] < app.session.history["train_loss"][0]


@pytest.mark.parametrize("value", [1.5, float("nan"), -0.2])
def test_a_refused_hyperparameter_is_named_as_on_the_page_and_its_box_shows_the_value_in_use(value):
    app = Playground(optimizer="adam")
    box = app.controls.hyper_widgets["beta1"]
    box.value = value
    assert "Beta1 must be" in app.notice.object and "--beta1" not in app.notice.object, app.notice.object
    assert "training goes on with 0.9" in app.notice.object
    assert box.value == 0.9 and app.config.optimizer_settings().beta1 == 0.9
    box.value = 0.8  # a good value is taken, and the notice goes
    assert app.config.beta1 == 0.8 and app.notice.object == ""


def test_an_imported_session_with_torchs_default_learning_rate_shows_and_links_the_value_in_use():
    source = Session(RunConfig(epochs=1, learning_rate=None, optimizer="adam"))
    source.advance(2)
    app = Playground()
    app.files.import_session(json.dumps(export_session(source)).encode())
    assert "Imported" in app.notice.object, app.notice.object
    assert app.controls.learning_rate.value == 0.001 == app.config.optimizer_settings().learning_rate
    assert app.config.query(RunConfig()).get("learning_rate") == "0.001"


def test_upload_folders_of_processes_that_ended_are_removed_and_others_kept(tmp_path):
    import subprocess
    import sys

    from playground.ui.views.upload import UPLOAD_FOLDER_PREFIX, remove_stale_upload_folders

    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                           text=True, check=True).stdout.strip()
    stale, live, other = (tmp_path / f"{UPLOAD_FOLDER_PREFIX}{ended}-abc", tmp_path / f"{UPLOAD_FOLDER_PREFIX}1-abc",
                          tmp_path / f"{UPLOAD_FOLDER_PREFIX}x-abc")
    for folder in (stale, live, other):
        (folder / "1").mkdir(parents=True)
    assert remove_stale_upload_folders(str(tmp_path)) == 1
    assert not stale.exists() and live.exists() and other.exists()  # pid 1 runs; "x" is not ours
