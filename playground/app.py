"""The file that ``panel serve playground/app.py`` serves: one playground page per browser tab.

``nn-playground serve`` (playground/server) serves the same page with the room's limits; the
page itself is built in playground/ui/page.py.
"""
import panel as pn

from playground.ui.page import TITLE, create_app

if pn.state.served:
    create_app().servable(title=TITLE)
