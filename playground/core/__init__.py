"""The domain: settings, data, one training session, snapshots, the numbers of one slow step,
the loss landscape, optimizer races on surfaces, lessons. Imports neither Panel nor Bokeh:
it runs in the CLI, the tests and a notebook as it does behind the page."""
