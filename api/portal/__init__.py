"""The web portal (issue 8): citizens, agency staff and administrators, served by the API's app.

Pages call the same route functions as HTTP API v1 with the same Caller, so every rule (who may
act, who may see what, anonymity, confidentiality) is the API's, in one place.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

STATIC_DIR = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    from api.portal import admin, citizen, staff
    from api.portal.web import error_page, wants_page

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for module in (citizen, staff, admin):
        app.include_router(module.router)
    api_not_found = app.exception_handlers[StarletteHTTPException]

    async def not_found(request: Request, error: StarletteHTTPException) -> Response:
        """An unknown address in a browser gets the portal's 404 page; API clients keep problem+json."""
        if error.status_code in (404, 405) and wants_page(request):
            return await error_page(request, 404, "error.not_found", None)
        return await api_not_found(request, error)

    app.add_exception_handler(StarletteHTTPException, not_found)
