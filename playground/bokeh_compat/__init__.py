"""Every use of a Bokeh or Panel internal, in one fenced place (see docs/ARCHITECTURE.md).

Each module here patches or reads something that is not Bokeh's or Panel's public API; each
says which versions it was verified on, and its ``install()`` reports whether it took.
"""
