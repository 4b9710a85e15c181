"""Each forked server process binds its own listening socket (SO_REUSEPORT).

Bokeh's ``Server`` binds through the module-level name ``bokeh.server.server.bind_sockets``;
:func:`install` replaces that name, in a forked child, with a bind that sets ``reuse_port``,
so that the kernel spreads the room's connections evenly over the processes (see
``playground.server.serving._fork_with_own_sockets`` for why).
"""
from __future__ import annotations

from bokeh.server import server as bokeh_server
from tornado import netutil

VERIFIED_ON = "bokeh 3.9.2, tornado 6.6.1"
_ORIGINAL = getattr(bokeh_server, "bind_sockets", None)


def bind_own_socket(address, port):
    """Bokeh's ``bind_sockets(address, port) -> (sockets, port)``, with SO_REUSEPORT."""
    sockets = netutil.bind_sockets(port=port, address=address, reuse_port=True)
    return sockets, sockets[0].getsockname()[1]


def check() -> bool:
    """Whether Bokeh's Server still binds through ``bokeh.server.server.bind_sockets``."""
    import inspect

    return _ORIGINAL is not None and "= bind_sockets(opts.address, opts.port)" in inspect.getsource(bokeh_server)


def install() -> bool:
    """Make this process's Bokeh server bind with SO_REUSEPORT (call it in a forked child
    only); False, and nothing changed, if Bokeh binds elsewhere."""
    if bokeh_server.bind_sockets is bind_own_socket:
        return True
    if not check():
        return False
    bokeh_server.bind_sockets = bind_own_socket
    return True


def uninstall() -> None:
    bokeh_server.bind_sockets = _ORIGINAL
