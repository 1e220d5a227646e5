"""The web portal (issue 8): citizens, agency staff and administrators, served by the API's app.

Pages call the same route functions as HTTP API v1 with the same Caller, so every rule (who may
act, who may see what, anonymity, confidentiality) is the API's, in one place.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    from api.portal import admin, citizen, staff

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for module in (citizen, staff, admin):
        app.include_router(module.router)
