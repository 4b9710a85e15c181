"""``nn-playground serve``: serve the app, one independent session per browser tab."""
from __future__ import annotations

import panel as pn

UNUSED_SESSION_MS = 5_000  # a closed tab's session is dropped after this long
CHECK_UNUSED_MS = 1_000


def warm_up() -> None:
    """Load the compiled kernels (from Numba's cache) before the first page asks."""
    from .config import RunConfig
    from .session import Session

    session = Session(RunConfig(epochs=1))
    session.advance(1)
    session.neuron_maps()


def serve(port: int = 5006, address: str | None = None, show: bool = False, threaded: bool = False,
          num_procs: int = 1, allow_websocket_origin: list[str] = ()):
    """Serve the playground at ``http://localhost:PORT/`` (and the race at ``/race``);
    blocks unless ``threaded``. ``num_procs`` > 1 forks that many server processes."""
    from .app import TITLE, create_app
    from .race import create_race

    warm_up()
    origins = [f"localhost:{port}", f"127.0.0.1:{port}"] + ([f"{address}:{port}"] if address else [])
    origins += [o if ":" in o else f"{o}:{port}" for o in allow_websocket_origin]
    return pn.serve({"/": create_app, "/race": create_race}, port=port, address=address, show=show, title=TITLE,
                    websocket_origin=origins, threaded=threaded, num_procs=num_procs,
                    unused_session_lifetime=UNUSED_SESSION_MS, check_unused_sessions=CHECK_UNUSED_MS)
