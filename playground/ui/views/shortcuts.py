"""Keyboard shortcuts (space Play/Pause, s Step, r Reset) and accessible names for the
controls that Bokeh leaves unnamed.

Both live in the browser. :class:`KeyboardShortcuts` shows a one-line help and installs a
``keydown`` listener on the page that clicks the playground's own buttons, so a key does
exactly what a click does (and follows whatever the buttons do). Keys are ignored while
focus is in a text field or a select, with a modifier key held, or when focus is in
another playground on the same page (a notebook may show several); space on a focused
button is left to the button itself.

:data:`ACCESSIBLE_NAMES_JS` gives screen readers a name for what Bokeh renders without
one: a checkbox's input (Bokeh puts its label beside it, not around it), a slider's
handle, a number input's up/down buttons, a file input without a title, and a button
whose label is one symbol (``+``, ``−``: named by its tooltip). It wraps the render
method of those view classes once per page, so re-rendered and later views get names too.
"""
from __future__ import annotations

import param
from panel.custom import JSComponent

KEYS = {" ": ["Play", "Pause"], "s": ["Step"], "r": ["Reset"]}  # key -> labels of the button it clicks
HELP_HTML = ("Keys: <kbd>space</kbd> Play/Pause · <kbd>s</kbd> Step · <kbd>r</kbd> Reset")

ACCESSIBLE_NAMES_JS = """
const pgAccessibleNames = () => {
  if (!window.Bokeh || window.__pg_accessible_names) return;
  window.__pg_accessible_names = true;
  const tooltipText = (tip) => {
    if (tip == null) return '';
    if (typeof tip === 'string') return tip;
    return typeof tip.content === 'string' ? tip.content : '';
  };
  const name = (view) => {
    try {
      const model = view.model;
      const title = model.title || '';
      if (view.checkbox_el && model.label) view.checkbox_el.setAttribute('aria-label', model.label);
      if (view.slider_el && title) {
        for (const handle of view.slider_el.querySelectorAll('[role=slider]')) handle.setAttribute('aria-label', title);
      }
      if (view.btn_up_el && view.btn_down_el) {
        view.btn_up_el.setAttribute('aria-label', `Increase ${title}`.trim());
        view.btn_down_el.setAttribute('aria-label', `Decrease ${title}`.trim());
      }
      if (view.input_el && view.input_el.type === 'file' && !title) view.input_el.setAttribute('aria-label', 'Choose a file');
      if (view.button_el && typeof model.label === 'string' && /^[^A-Za-z0-9]{1,2}$/.test(model.label.trim())) {
        const text = tooltipText(model.tooltip) || tooltipText(model.description);
        if (text) view.button_el.setAttribute('aria-label', text);
      }
    } catch (error) { /* a name is a courtesy: never break a view for it */ }
  };
  for (const type of ['Checkbox', 'Slider', 'IntSlider', 'Spinner', 'FileInput', 'Button', 'panel.models.widgets.Button']) {
    let cls = null;
    try { cls = Bokeh.Models.get(type); } catch (error) { cls = null; }
    const proto = cls && cls.prototype.default_view && cls.prototype.default_view.prototype;
    if (!proto || proto.__pg_named) continue;
    const render = proto.render;
    proto.render = function (...args) {
      const out = render.apply(this, args);
      name(this);
      return out;
    };
    proto.__pg_named = true;
  }
  for (const view of Bokeh.index.all_views()) name(view);
};
"""

SHORTCUTS_JS = """
const EDITABLE = new Set(['INPUT', 'SELECT', 'TEXTAREA']);

function buttonFor(view, labels) {
  const root = view.root;
  for (const other of Bokeh.index.all_views()) {
    const model = other.model;
    if (other.root === root && other.button_el && model.type && model.type.endsWith('Button')
        && labels.includes(model.label) && !model.disabled && model.visible !== false) {
      return other.button_el;
    }
  }
  return null;
}

export function render({ model, el, view }) {
  pgAccessibleNames();
  const help = document.createElement('div');
  help.className = 'pg-keys';
  help.innerHTML = model.help;
  const onKey = (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    const key = event.key === ' ' || event.key === 'Spacebar' ? ' ' : (event.key || '').toLowerCase();
    const labels = model.keys[key];
    if (!labels) return;
    const path = event.composedPath();
    const target = path[0] || document.body;
    if (EDITABLE.has(target.tagName) || target.isContentEditable) return;  // typing, or choosing
    if (key === ' ' && (target.tagName === 'BUTTON' || target.getAttribute('role') === 'button')) return;
    const page = target === document.body || target === document.documentElement;
    if (!page && !path.includes(view.root.el)) return;  // focus is in something else on the page
    const button = buttonFor(view, labels);
    if (button == null) return;
    event.preventDefault();  // space would scroll the page
    if (!event.repeat) button.click();
  };
  document.addEventListener('keydown', onKey);
  window.__pg_key_listeners = (window.__pg_key_listeners || 0) + 1;  // tests wait for this
  model.on('remove', () => {
    document.removeEventListener('keydown', onKey);
    window.__pg_key_listeners -= 1;
  });
  el.appendChild(help);
}
"""


class KeyboardShortcuts(JSComponent):
    """A one-line help that makes space, s and r press the playground's Play/Pause, Step
    and Reset buttons; it also names unnamed controls for screen readers (see module)."""

    keys = param.Dict(default=KEYS, doc="key (as KeyboardEvent.key, lower case) -> labels of the button to click")
    help = param.String(default=HELP_HTML, doc="the help line, HTML")

    _stylesheets = [".pg-keys { font-size: 12px; color: var(--pg-muted, #666); white-space: nowrap; }"
                    " kbd { font-family: monospace; font-size: 11px; padding: 0 4px; border: 1px solid "
                    "var(--pg-header-border, #c5ccd2); border-radius: 3px; background: var(--pg-kbd-bg, #fff); }"]
    _esm = ACCESSIBLE_NAMES_JS + SHORTCUTS_JS
