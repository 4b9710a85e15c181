"""nn-playground: watch a neural network learn, in the browser or the terminal."""
__version__ = "0.1.0"
