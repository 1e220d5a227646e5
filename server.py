"""The web server: the HTTP API (api/) and the portal (portal/) in one ASGI app, `server:app`, the
app uvicorn serves. `create_app(settings, temporal_client=...)` serves the tests too.

The composition root: it sits above both, so neither imports the other's app."""

from __future__ import annotations

from fastapi import FastAPI
from temporalio.client import Client

from api.main import create_api
from config import Settings, get_settings
from portal import install as install_portal


def create_app(
    settings: Settings | None = None, temporal_client: Client | None = None, *, configure_process: bool = False
) -> FastAPI:
    """The API with the portal's pages, static files and its browser 404 page."""
    settings = settings or get_settings()
    app = create_api(settings, temporal_client, configure_process=configure_process)
    install_portal(app, settings)
    return app


app = create_app(configure_process=True)
