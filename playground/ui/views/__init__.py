"""The pictures of the app, one :class:`panel.viewable.Viewer` each.

Every view owns its Bokeh figure and ColumnDataSources, builds them once, and updates
them from a :class:`playground.core.session.Frame` by patching or streaming data.
"""
