"""The ``nn-playground`` command (``commands.main``) and its benchmark (``bench``)."""
from playground.cli.commands import main

__all__ = ["main"]
