"""The Jinja environment of every server-rendered page (the UI and the public subscribe pages).

Its own module so that a page outside the UI can render without importing the UI's
handlers (which import the API, which imports the public routes: an import cycle).
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

HERE = Path(__file__).parent
env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
env.globals["static"] = lambda name: f"/ui/static/{name}"
