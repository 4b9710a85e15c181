"""The page's link: one table of everything a URL carries, and one codec for it (as the
TensorFlow Playground's ``state.ts`` has ``State.PROPS`` with ``serialize`` and
``deserializeState``).

A link carries three kinds of values, each with one owner:

- **run settings**: every :class:`~playground.core.config.RunConfig` setting but
  ``RunConfig.LINK_EXCLUDED`` (a path on the server, the wide nets); the config converts and
  checks them, settings that depend on each other included (``RunConfig.apply_query``);
- **view settings** (:data:`VIEW_PROPS`): how the page looks, not what trains: the theme and
  the colours (views/appearance.py), and whether the output plot shows the test data and a
  discretized output (views/boundary.py), each row naming the view that owns it;
- **page settings** (:data:`PAGE_PROPS`): the layout: ``embed`` (the compact layout for an
  iframe), ``panels`` (the pictures it shows) and ``hide`` (controls a lesson or a course
  page leaves out, :data:`HIDABLE_CONTROLS`).

:func:`decode` splits a page's query into those three and says in words what it skipped;
:func:`encode` writes the query back, only what differs from the defaults. Adding a value to
the link is one row in a table here.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from playground.core.config import RunConfig
from playground.ui.views.colors import DEFAULT_PALETTE, PALETTES

EMBED_PANELS = ("boundary", "loss", "network", "gradients", "landscape", "controls")
DEFAULT_EMBED_PANELS = ("boundary", "loss")
# What ``hide`` may take away, by the name a link uses (the page's controls of that name).
HIDABLE_CONTROLS = ("learning_rate", "optimizer", "loss", "regularization", "reg_rate", "speed", "lesson",
                    "noise", "train_ratio", "batch_size", "seed", "initialization", "features", "data",
                    "upload", "save", "slow_step", "appearance", "share")


@dataclass(frozen=True)
class LinkProperty:
    """One value a link may carry that RunConfig does not own.

    ``kind``: "choice" (one of ``choices``), "flag" (true/false) or "list" (comma-separated
    items of ``choices``); ``aliases``: other spellings accepted (Panel's own theme name);
    ``owner``: for a view setting, the page's view whose parameter of that name it is.
    """

    key: str
    kind: str
    default: object
    choices: tuple = ()
    aliases: dict = field(default_factory=dict)
    doc: str = ""
    owner: str = ""

    def parse(self, raw: str):
        """The value of ``raw``, or raise ValueError with what to write instead."""
        if self.kind == "flag":
            text = raw.strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(f"{self.key} must be true or false")
        if self.kind == "list":
            items = [item.strip() for item in raw.split(",") if item.strip()]
            unknown = [item for item in items if item not in self.choices]
            if unknown:
                raise ValueError(f"unknown {self.key} {unknown[0]!r}; choose from {', '.join(self.choices)}")
            return list(dict.fromkeys(items))
        value = self.aliases.get(raw, raw)
        if value not in self.choices:
            raise ValueError(f"unknown {self.key} {raw!r}; choose from {', '.join(self.choices)}")
        return value

    def text(self, value) -> str:
        if self.kind == "flag":
            return "true" if value else "false"
        return ",".join(value) if self.kind == "list" else str(value)


VIEW_PROPS = (
    LinkProperty("theme", "choice", "light", ("light", "dark"), aliases={"default": "light"},
                 doc="light or dark page", owner="appearance"),
    LinkProperty("colors", "choice", DEFAULT_PALETTE, tuple(PALETTES), doc="palette of classes and outputs",
                 owner="appearance"),
    LinkProperty("show_test", "flag", False, doc="the output plot shows the test points", owner="boundary"),
    LinkProperty("discretize", "flag", False, doc="the output plot shows only the predicted class",
                 owner="boundary"),
)
PAGE_PROPS = (
    LinkProperty("embed", "flag", False, doc="the compact layout for an iframe"),
    LinkProperty("panels", "list", list(DEFAULT_EMBED_PANELS), EMBED_PANELS, doc="the pictures an embedded page shows"),
    LinkProperty("hide", "list", [], HIDABLE_CONTROLS, doc="controls the page leaves out"),
)
PROPS = {prop.key: prop for prop in VIEW_PROPS + PAGE_PROPS}


@dataclass
class Link:
    """A page's query, split by owner: ``run`` raw values for RunConfig.apply_query, ``view``
    and ``page`` parsed values (only those the link set), ``problems`` one line per skipped entry."""

    run: dict = field(default_factory=dict)
    view: dict = field(default_factory=dict)
    page: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)


def decode(query: dict) -> Link:
    """Split a page's URL query (``{"dataset": "xor", "theme": "dark", ...}``, values as text)."""
    link = Link()
    view_keys = {prop.key for prop in VIEW_PROPS}
    for key, raw in query.items():
        prop = PROPS.get(key)
        if prop is None:
            link.run[key] = raw  # RunConfig says what it does not know
            continue
        try:
            value = prop.parse(str(raw))
        except ValueError as err:
            link.problems.append(f"{err} (ignored)")
            continue
        (link.view if key in view_keys else link.page)[key] = value
    return link


def encode(config: RunConfig, defaults: RunConfig, view: dict, page: dict) -> dict:
    """The query that reopens this page: the run settings that differ from ``defaults``, then
    the view and page values that differ from the table's defaults. ``page["panels"]``
    travels only with ``embed``."""
    values, given = config.query(defaults), {**view, **page}
    for prop in VIEW_PROPS + PAGE_PROPS:
        value = given.get(prop.key, prop.default)
        if (given.get("embed", False) if prop.key == "panels" else value != prop.default):
            values[prop.key] = prop.text(value)
    return values
