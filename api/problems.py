"""RFC 9457 problem details for every error the API returns, in one place."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"

TITLES = {
    400: "Permintaan tidak valid",
    401: "Token tidak ada atau tidak valid",
    403: "Tidak diizinkan",
    404: "Tidak ditemukan",
    405: "Metode tidak diizinkan",
    409: "Tindakan tidak sesuai dengan status laporan",
    413: "Permintaan terlalu besar",
    415: "Jenis berkas tidak didukung",
    422: "Data tidak valid",
    429: "Terlalu banyak permintaan",
    500: "Kesalahan internal",
    503: "Layanan sedang tidak tersedia",
    507: "Ruang penyimpanan tidak cukup",
}


class Problem(Exception):
    """Raise anywhere in the API to answer with problem+json."""

    def __init__(
        self, status: int, detail: str, *, type_: str = "about:blank", headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status, self.detail, self.type, self.headers, self.extensions = status, detail, type_, headers, extensions


# Paths whose clients read errors in a form of their own (Open311's GeoReport errors): prefix ->
# (path, status, detail, headers) -> response. Every error answered below goes through it.
ERROR_FORMATS: dict[str, Callable[[str, int, str, dict[str, str] | None], Response]] = {}


def register_error_format(prefix: str, render: Callable[[str, int, str, dict[str, str] | None], Response]) -> None:
    ERROR_FORMATS[prefix] = render


def problem_response(
    request: Request, status: int, detail: str, *, type_: str = "about:blank",
    headers: dict[str, str] | None = None, **extensions: Any,
) -> Response:
    path = request.url.path
    for prefix, render in ERROR_FORMATS.items():
        if path.startswith(prefix):
            return render(path, status, detail, headers)
    body = {"type": type_, "title": TITLES.get(status, "Error"), "status": status, "detail": detail,
            "instance": request.url.path, **extensions}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, error: Problem) -> Response:
        return problem_response(request, error.status, error.detail, type_=error.type, headers=error.headers,
                                **error.extensions)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError) -> Response:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in error.errors()
        ]
        return problem_response(request, 422, "Periksa kembali isian yang ditandai.", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: HTTPException) -> Response:
        return problem_response(request, error.status_code, str(error.detail), headers=getattr(error, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> Response:
        return problem_response(request, 500, "Terjadi kesalahan yang tidak terduga; kejadian ini dicatat.")


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": TITLES[status], "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    for status in (400, 401, 403, 404, 409, 413, 415, 422, 429, 503, 507)
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: PROBLEM_RESPONSES[status] for status in statuses}
