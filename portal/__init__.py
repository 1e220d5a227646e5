"""The web portal (issue 8): citizens, agency staff and administrators, served by the API's app.

Pages call the same route functions as HTTP API v1 with the same Caller, so every rule (who may
act, who may see what, anonymity, confidentiality) is the API's, in one place.
"""

from __future__ import annotations

from pathlib import Path

import structlog
from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from config import Settings

STATIC_DIR = Path(__file__).parent / "static"
log = structlog.get_logger("sp4n.portal")


# Browser libraries installed by `npm ci` (package-lock.json), served as they were published.
VENDOR_ASSETS = {"leaflet": "leaflet/dist", "markercluster": "leaflet.markercluster/dist"}


def mount_vendor_assets(app: FastAPI, settings: Settings) -> None:
    """/vendor/<name>/ from node_modules (PORTAL_ASSETS_DIR); without them the maps stay off and
    everything else works (the list and the region picker remain)."""
    root = Path(settings.portal_assets_dir)
    for name, folder in VENDOR_ASSETS.items():
        if (root / folder).is_dir():
            app.mount(f"/vendor/{name}", StaticFiles(directory=root / folder), name=f"vendor-{name}")
        else:
            log.warning("portal asset missing: run `make assets` (npm ci)", asset=name, path=str(root / folder))


def maps_available(settings: Settings) -> bool:
    root = Path(settings.portal_assets_dir)
    return all((root / folder).is_dir() for folder in VENDOR_ASSETS.values())


def install(app: FastAPI, settings: Settings) -> None:
    from portal import admin, citizen, following, open_data, privacy, staff
    from portal.web import error_page, wants_page

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    mount_vendor_assets(app, settings)
    for module in (citizen, staff, admin, open_data, privacy, following):
        app.include_router(module.router)
    api_not_found = app.exception_handlers[StarletteHTTPException]

    async def not_found(request: Request, error: StarletteHTTPException) -> Response:
        """An unknown address in a browser gets the portal's 404 page; API clients keep problem+json."""
        if error.status_code in (404, 405) and wants_page(request):
            return await error_page(request, 404, "error.not_found", None)
        return await api_not_found(request, error)

    app.add_exception_handler(StarletteHTTPException, not_found)
