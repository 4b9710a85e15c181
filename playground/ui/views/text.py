"""Text on the page: the one place where words become HTML.

Every text that comes from outside the code (a session file, a CSV, a link, an upload, an
error that quotes any of them) reaches the page through these helpers, escaped, so markup in
it shows as the characters it is and never runs. Fixed markup of our own (``<b>``, the error
span) is added around the escaped text here, nowhere else.
"""
from __future__ import annotations

import html


def as_text(value) -> str:
    """``value`` as HTML that shows exactly its characters (``<`` as ``&lt;``, quotes too)."""
    return html.escape(str(value), quote=True)


def error_html(message, prefix: str = "") -> str:
    """An error notice: ``prefix`` (our own words) and ``message``, both escaped."""
    return f"<span class='error'>{as_text(prefix)}{as_text(message)}</span>"


def notice_html(message, title: str = "") -> str:
    """A plain notice, with an optional bold ``title`` before it; both escaped."""
    head = f"<b>{as_text(title)}.</b> " if title else ""
    return head + as_text(message)
