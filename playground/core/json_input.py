"""JSON from outside (a config file, a session file, an upload), read and parsed with limits.

Files are read with a byte cap, not a size from ``stat`` (``/dev/zero`` or a pipe reports 0
bytes and never ends); the nesting depth is measured before parsing (ten thousand nested
lists would otherwise exhaust Python's recursion), and whatever the parser refuses (bad
syntax, a number of more than 4,300 digits, ``NaN``) becomes one line of ``error``.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

MAX_DEPTH = 20  # a session file nests 4 deep (batches.rng.state); a config file 2
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


def read_capped(path, what: str, error, max_bytes: int) -> bytes:
    """At most ``max_bytes`` of the file at ``path``; ``error`` if it is longer or unreadable.
    ``what`` names the file in messages (like "config file settings.json")."""
    try:
        with Path(path).open("rb") as stream:
            raw = stream.read(max_bytes + 1)
    except FileNotFoundError:
        raise error(f"{what} not found") from None
    except IsADirectoryError:
        raise error(f"{what} is a folder; give a file") from None
    except OSError as err:
        raise error(f"cannot read {what}: {err.strerror or err}") from None
    if len(raw) > max_bytes:
        raise error(f"{what} is larger than {_megabytes(max_bytes)}")
    return raw


def nesting_depth(raw: bytes) -> int:
    """How deep lists and objects nest in JSON text ``raw`` (brackets inside strings do not
    count); unbalanced text gives some depth, and the parser then says what is wrong."""
    bare = np.frombuffer(_STRING.sub(b'""', raw), dtype=np.uint8)
    steps = (np.isin(bare, (ord("["), ord("{"))).astype(np.int32)
             - np.isin(bare, (ord("]"), ord("}"))).astype(np.int32))
    return int(np.cumsum(steps).max(initial=0))


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def parse_json(raw: bytes | str, what: str, error, max_bytes: int, max_depth: int = MAX_DEPTH):
    """The value of JSON text ``raw``; ``error`` (an exception class) with one line when it is
    too big, nested deeper than ``max_depth``, not UTF-8, not JSON, or holds NaN/Infinity or
    an integer too long for Python to convert."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    if len(raw) > max_bytes:
        raise error(f"{what} is larger than {_megabytes(max_bytes)}")
    if not raw.strip():
        raise error(f"{what} is empty")
    depth = nesting_depth(raw)
    if depth > max_depth:
        raise error(f"{what} nests lists or objects {depth} deep; at most {max_depth} are allowed")
    try:
        return json.loads(raw.decode("utf-8-sig"), parse_constant=_refuse_constant)
    except UnicodeDecodeError:
        raise error(f"{what} is not UTF-8 text") from None
    except json.JSONDecodeError as err:
        raise error(f"{what} is not valid JSON: {err.msg} at line {err.lineno}") from None
    except (ValueError, RecursionError) as err:  # a 5000-digit integer, NaN
        raise error(f"{what} is not usable JSON: {str(err).split(';')[0]}") from None


def read_json_file(path, what: str, error, max_bytes: int):
    """The parsed contents of the JSON file at ``path``, read with a byte cap (see above)."""
    named = f"{what} {path}"
    return parse_json(read_capped(path, named, error, max_bytes), named, error, max_bytes)


def _megabytes(n_bytes: int) -> str:
    return f"{n_bytes / 1_000_000:g} MB"
