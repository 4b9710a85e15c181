"""The ``nn-playground`` command: train, data, bench (and serve, for the app).

Every setting flag comes from :class:`playground.core.config.RunConfig`: ``learning_rate``
is ``--learning-rate``, with the parameter's doc as help. Bad input of any kind exits
with code 2 and one line on stderr saying what to change; never a traceback.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import param

from kernels import BackendUnavailable

from playground.core.config import HYPERPARAMETERS, ConfigError, DescentConfig, RunConfig, flag
from playground.core.data import DataError, write_csv
from playground.server.idle import IDLE_PAUSE_MINUTES, MAX_TABS_PER_ADDRESS, SESSION_TIMEOUT_MINUTES

PROG = "nn-playground"


class UsageError(Exception):
    """Bad command-line use; the message is the one line to print."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors as one line and exit code 2 (not usage + message)."""

    def error(self, message):
        if "unrecognized arguments" in message and "_" in message:
            message += "; flags use dashes, like --learning-rate"
        raise UsageError(message)


def _add_setting_flags(parser, names=None) -> None:
    """One flag per RunConfig parameter (all, or ``names``); values stay raw strings."""
    for name in names or RunConfig.setting_names():
        parameter = RunConfig.param[name]
        help_text = (parameter.doc or "").replace("%", "%%")
        if isinstance(parameter, param.Boolean):
            parser.add_argument(flag(name), dest=name, action="store_const", const=True,
                                default=None, help=help_text)
        else:
            default = getattr(RunConfig, name)
            shown = ",".join(map(str, default)) if isinstance(default, list) else default
            parser.add_argument(flag(name), dest=name, default=None, metavar=name.upper(),
                                help=f"{help_text} (default: {shown})".replace("%", "%%"))


def _given_settings(args, names=None) -> dict:
    return {name: getattr(args, name) for name in names or RunConfig.setting_names()
            if getattr(args, name, None) is not None}


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, allow_abbrev=False, description="Watch a neural network learn: train from the "
                     "terminal, write data sets, benchmark the kernels, or serve the app.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND",
                                     parser_class=lambda **kw: _Parser(allow_abbrev=False, **kw))
    commands.required = True

    train = commands.add_parser("train", help="train a network and print the losses")
    train.add_argument("--config", help="JSON file of settings (same names, with underscores)")
    train.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    train.add_argument("--save", metavar="FILE", help="save the session (weights, optimizer state, history) as JSON")
    train.add_argument("--resume", metavar="FILE", help="continue a saved session for --epochs more epochs")
    _add_setting_flags(train)

    data = commands.add_parser("data", help="write a data set as CSV (x1,x2,label,split)")
    data_names = ["dataset", "classes", "noise", "train_ratio", "points", "seed", "csv"]
    _add_setting_flags(data, data_names)

    bench = commands.add_parser("bench", help="time one training step on every backend")
    bench.add_argument("--json", action="store_true", help="print a JSON list of records")
    bench.add_argument("--repeats", default="5", help="timing repeats per row (best is kept)")
    bench.add_argument("--sweep", action="store_true",
                       help="instead, time a float32 matmul over sizes 64..4096 on numpy, a Numba loop "
                            "and cuda (when a GPU is present), in GFLOP/s, and find where the GPU wins "
                            "(each size gets about half a second; --repeats does not apply)")
    bench.add_argument("--plot", metavar="FILE.html", default=None,
                       help="write the sweep as a Bokeh chart to this HTML file (implies --sweep)")
    bench.add_argument("--load", metavar="N", default=None,
                       help="instead, a room: serve the app in a subprocess and play it from N light "
                            "websocket clients (no browser); print frames/s per session, server CPU ms "
                            "per frame and server memory before/during/after")
    bench.add_argument("--seconds", metavar="T", default=None, help="with --load: seconds to measure (default: 20)")
    bench.add_argument("--num-procs", metavar="P", default=None,
                       help="with --load: server processes, as serve --num-procs (default: 1)")
    descend = commands.add_parser("descend", help="race an optimizer down an analytic surface")
    for name in ("surface", "steps", "start"):
        parameter = DescentConfig.param[name]
        descend.add_argument(flag(name), dest=name, default=None, metavar=name.upper(),
                             help=f"{parameter.doc} (default: {getattr(DescentConfig, name)})")
    _add_setting_flags(descend, ["optimizer", *HYPERPARAMETERS])
    descend.add_argument("--json", action="store_true", help='print {"path": [[x, y], ...], "loss": [...]}')

    serve = commands.add_parser("serve", help="serve the playground app in the browser")
    serve.add_argument("--port", default="5006", help="port to listen on (default: 5006)")
    serve.add_argument("--address", default=None, help="address to listen on (default: all)")
    serve.add_argument("--show", action="store_true", help="open the page in a browser")
    serve.add_argument("--num-procs", default="1", help="server processes (a room: 2 on a 2-core machine)")
    serve.add_argument("--allow-websocket-origin", action="append", default=None, metavar="HOST[:PORT]",
                       help="another host name pages may be opened under (repeatable)")
    serve.add_argument("--idle-pause-minutes", default=str(IDLE_PAUSE_MINUTES), metavar="MINUTES",
                       help="a run left playing this long without a click pauses, with a notice "
                            f"(default: {IDLE_PAUSE_MINUTES:g})")
    serve.add_argument("--session-timeout-minutes", default=str(SESSION_TIMEOUT_MINUTES), metavar="MINUTES",
                       help="a tab left this long without a click is ended, and the page says to reload; "
                            f"a closed tab's session always ends within seconds (default: {SESSION_TIMEOUT_MINUTES:g})")
    serve.add_argument("--max-tabs-per-address", default=str(MAX_TABS_PER_ADDRESS), metavar="N",
                       help="open tabs one client address may hold in each server process; more get a "
                            "page that says so (default: %(default)s; a room behind one NAT address "
                            "needs about two per learner)")
    return parser


def _finite_or_none(value):
    return value if isinstance(value, (int, float)) and math.isfinite(value) else None


def run_train(args) -> int:
    from playground.core.session import Session

    started = time.perf_counter()
    session = _resumed_session(args) if args.resume else Session(_train_config(args))
    config = session.config
    show_progress = not args.json and sys.stderr.isatty()
    total = config.epochs * session.steps_per_epoch
    first_step = session.step
    chunk = max(1, min(total // 100 or 1, 20 * session.steps_per_epoch))
    frame = session.advance(0, boundary=False)
    done = 0
    while done < total and not frame.diverged:
        n = min(chunk, total - done)
        frame = session.advance(n, boundary=False)
        done += n
        if show_progress:
            width = 30
            filled = int(width * done / total)
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] epoch {frame.epoch:.0f}"
                             f"/{(first_step + total) / session.steps_per_epoch:.0f}  train loss {frame.train_loss:.4f}")
            sys.stderr.flush()
    if show_progress:
        sys.stderr.write("\n")
    seconds = time.perf_counter() - started
    if args.save:
        from playground.core.snapshot import save
        try:
            save(session, args.save)
        except OSError as err:
            raise UsageError(f"cannot write --save {args.save}: {err.strerror or err}") from None
    summary = {
        "epochs": round(frame.epoch, 6), "steps": frame.step,
        "train_loss": _finite_or_none(frame.train_loss), "test_loss": _finite_or_none(frame.test_loss),
        "train_accuracy": frame.train_accuracy, "test_accuracy": frame.test_accuracy,
        "diverged": frame.diverged, "message": frame.message,
        "backend": session.backend.name, "dtype": config.dtype, "loss": session.loss,
        "optimizer": config.optimizer, "layer_sizes": list(session.spec.layer_sizes),
        "seconds": round(seconds, 4),
        **session.diagnostics(),
    }
    if args.json:
        print(json.dumps(summary))
        return 0
    accuracy = ""
    if frame.train_accuracy is not None:
        accuracy = f", accuracy train {frame.train_accuracy:.3f} test {frame.test_accuracy:.3f}"
    print(f"{session.data.name}: {'-'.join(map(str, session.spec.layer_sizes))} "
          f"{session.loss} {config.optimizer} on {session.backend.name}")
    print(f"epoch {frame.epoch:g}: train loss {frame.train_loss:.4g}, test loss "
          f"{frame.test_loss:.4g}{accuracy} ({seconds:.2f} s)")
    if frame.diverged:
        print(frame.message)
    return 0


# Settings that a resumed session may change (the rest would make it another network).
RESUMABLE = ("epochs", "backend", "optimizer", "regularization", "reg_rate", *HYPERPARAMETERS)


def _train_config(args) -> RunConfig:
    """The config of a fresh run: defaults < --config file < flags, checked as a whole."""
    values = RunConfig.load_json(args.config) if args.config else {}
    try:
        from_file = RunConfig.convert_values(values, show=repr)
    except ConfigError as err:
        raise ConfigError(f"in {args.config}: {err}") from None
    from_flags = RunConfig.convert_values(_given_settings(args))

    def show(name):  # name a setting where the user wrote it
        return f"{name!r} (in {args.config})" if name in from_file and name not in from_flags else flag(name)

    config = RunConfig()
    # Flags override the file; the combination is checked once, as a whole.
    config.apply_checked({**from_file, **from_flags}, show)
    return config


def _resumed_session(args):
    """The session saved in ``--resume FILE``, with the flags a resumed run may change."""
    from playground.core.snapshot import SnapshotError, load

    given = _given_settings(args)
    fixed = [flag(n) for n in given if n not in RESUMABLE]
    if fixed or args.config:
        what = ", ".join(fixed + (["--config"] if args.config else []))
        raise UsageError(f"{what} cannot change a resumed session; only "
                         f"{', '.join(flag(n) for n in RESUMABLE)} can")
    try:
        session = load(args.resume, backend=given.get("backend"))
    except SnapshotError as err:
        raise UsageError(str(err)) from None
    session.config.update_checked({k: v for k, v in given.items() if k != "backend"})
    return session


def run_data(args) -> int:
    from playground.core.session import load_data

    config = RunConfig.from_values(_given_settings(args, ["dataset", "classes", "noise",
                                                          "train_ratio", "points", "seed", "csv"]))
    write_csv(load_data(config), sys.stdout)
    return 0


def run_bench(args) -> int:
    from playground.cli.bench import run_benchmark

    try:
        repeats = int(args.repeats)
        if repeats < 1:
            raise ValueError
    except ValueError:
        raise UsageError(f"--repeats must be a whole number of at least 1, got {args.repeats!r}") from None
    if args.load is not None or args.seconds is not None or args.num_procs is not None:
        return run_load_bench(args)
    if args.sweep or args.plot:
        from playground.cli.bench import run_sweep

        plot = None
        if args.plot:  # refuse a path that cannot be written before the sweep, not after
            plot = Path(args.plot).expanduser()
            folder = plot.resolve().parent
            if not args.plot.lower().endswith((".html", ".htm")):
                raise UsageError(f"--plot writes an HTML page; give a file name ending in .html, got {args.plot!r}")
            if not folder.is_dir():
                raise UsageError(f"--plot: folder {str(folder)!r} does not exist; create it or pick another path")
            if not os.access(folder, os.W_OK):
                raise UsageError(f"--plot: folder {str(folder)!r} is not writable; pick another path")
        return run_sweep(as_json=args.json, plot=str(plot) if plot else None)
    return run_benchmark(as_json=args.json, repeats=repeats)


MAX_LOAD_CLIENTS = 200
MAX_LOAD_SECONDS = 3600


def _whole_number(name: str, raw, low: int, high: int) -> int:
    try:
        value = int(raw)
        if not low <= value <= high:
            raise ValueError
    except (TypeError, ValueError):
        raise UsageError(f"{name} must be a whole number from {low} to {high}, got {raw!r}") from None
    return value


def run_load_bench(args) -> int:
    """``bench --load N --seconds T --num-procs P``: see playground.server.loadtest."""
    if args.load is None:
        raise UsageError("--seconds and --num-procs go with --load N (the number of pages)")
    if args.sweep or args.plot:
        raise UsageError("--load runs a room, --sweep times matmuls: give one of them")
    clients = _whole_number("--load", args.load, 1, MAX_LOAD_CLIENTS)
    seconds = _whole_number("--seconds", "20" if args.seconds is None else args.seconds, 1, MAX_LOAD_SECONDS)
    num_procs = _whole_number("--num-procs", "1" if args.num_procs is None else args.num_procs, 1, 64)
    from playground.server.loadtest import LoadError, report, run_load

    progress = None if args.json else (lambda text: print(f"... {text}", file=sys.stderr, flush=True))
    try:
        result = run_load(clients, seconds, num_procs, progress=progress)
    except LoadError as err:
        raise UsageError(f"bench --load: {err}") from None
    print(json.dumps(result.to_json()) if args.json else report(result))
    return 1 if result.failed or result.server_errors else 0


def run_descend(args) -> int:
    from playground.core.descend import descend

    race = DescentConfig.from_values({n: getattr(args, n) for n in ("surface", "steps", "start")
                                      if getattr(args, n) is not None})
    config = RunConfig.from_values(_given_settings(args, ["optimizer", *HYPERPARAMETERS]))
    result = descend(race.surface, config.optimizer_settings(), race.start_point(), race.steps)
    if args.json:
        print(json.dumps({"surface": result.surface, "optimizer": result.optimizer, "path": result.path,
                          "loss": result.loss, "stopped": result.stopped, "message": result.message}))
        return 0
    x, y = result.path[-1]
    print(f"{result.optimizer} on {result.surface}: {len(result.path) - 1} steps from "
          f"({result.path[0][0]:g}, {result.path[0][1]:g}) to ({x:.6g}, {y:.6g}), loss {result.loss[-1]:.6g}")
    if result.message:
        print(result.message)
    return 0


MAX_IDLE_MINUTES = 7 * 24 * 60


def _minutes_flag(name: str, raw: str) -> float:
    """A positive number of minutes (fractions allowed: 0.5 is half a minute)."""
    try:
        value = float(raw)
        if not (math.isfinite(value) and 0 < value <= MAX_IDLE_MINUTES):
            raise ValueError
    except ValueError:
        raise UsageError(f"{name} must be a number of minutes greater than 0 and at most "
                         f"{MAX_IDLE_MINUTES} (a week), got {raw!r}") from None
    return value


def run_serve(args) -> int:
    from playground.server.serving import serve

    try:
        port = int(args.port)
        if not 0 < port < 65536:
            raise ValueError
    except ValueError:
        raise UsageError(f"--port must be a whole number from 1 to 65535, got {args.port!r}") from None
    try:
        num_procs = int(args.num_procs)
        if not 1 <= num_procs <= 64:
            raise ValueError
    except ValueError:
        raise UsageError(f"--num-procs must be a whole number from 1 to 64, got {args.num_procs!r}") from None
    idle_pause = _minutes_flag("--idle-pause-minutes", args.idle_pause_minutes)
    session_timeout = _minutes_flag("--session-timeout-minutes", args.session_timeout_minutes)
    try:
        max_tabs = int(args.max_tabs_per_address)
        if not 1 <= max_tabs <= 100_000:
            raise ValueError
    except ValueError:
        raise UsageError(f"--max-tabs-per-address must be a whole number from 1 to 100000, "
                         f"got {args.max_tabs_per_address!r}") from None
    print(f"nn-playground: starting at http://localhost:{port}/ (the first start after an install "
          "compiles the kernels, up to a minute; 'Launching server' says it is up; Ctrl+C stops)",
          file=sys.stderr)
    try:
        serve(port=port, address=args.address, show=args.show, num_procs=num_procs,
              allow_websocket_origin=args.allow_websocket_origin or [],
              idle_pause_minutes=idle_pause, session_timeout_minutes=session_timeout,
              max_tabs_per_address=max_tabs)
    except OSError as err:
        raise UsageError(f"cannot listen on port {port}: {err.strerror or err}; try another --port") from None
    return 0


COMMANDS = {"train": run_train, "data": run_data, "bench": run_bench, "descend": run_descend,
            "serve": run_serve}


def main(argv=None) -> int:
    """Entry point of the console script; returns the exit code."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    # "--start -1.5,2": argparse would take "-1.5,2" for an option; bind it to --start.
    for i, token in enumerate(argv[:-1]):
        if token == "--start":
            argv[i: i + 2] = [f"--start={argv[i + 1]}"]
            break
    try:
        args = parser.parse_args(argv)
        code = COMMANDS[args.command](args)
    except (UsageError, ConfigError, DataError, BackendUnavailable) as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        code = 130
    except BrokenPipeError:
        code = 0
    except OSError as err:  # the output cannot be written (a full disk, /dev/full)
        code = _unwritable(err)
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        pass
    except OSError as err:
        code = _unwritable(err)
    return code


def _unwritable(err: OSError) -> int:
    """Say in one line that the output could not be written; the exit code for it."""
    print(f"{PROG}: error: cannot write the output: {err.strerror or err}", file=sys.stderr)
    return 2

