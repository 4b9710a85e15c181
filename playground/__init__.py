"""nn-playground: watch a neural network learn, in the browser or the terminal."""
__version__ = "0.1.0"


def __getattr__(name):
    """``from playground import Playground`` for notebooks, without loading Panel for the CLI."""
    if name == "Playground":
        from playground.ui.page import Playground

        return Playground
    raise AttributeError(f"module 'playground' has no attribute {name!r}")
