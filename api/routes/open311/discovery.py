"""Discovery, the service list and each service's definition (GeoReport's categories and regions)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from fastapi import Request, Response

from api.deps import ServicesDep
from api.routes.open311.common import CHANGESET, Open311Error, path_param, route_doc, router
from api.routes.open311.rendering import answer, render
from db.directory import load_regions
from domain.open311 import (
    SERVICES,
    SERVICES_BY_CODE,
    SPECIFICATION,
    RegionChoice,
    rules_text,
    service_definition,
)


@router.get("/discovery.{fmt}", summary="Open311: service discovery", **route_doc())
async def discovery(request: Request, svc: ServicesDep) -> Response:
    async def produce(fmt: str) -> Response:
        base = svc.settings.base_url + router.prefix  # never the Host header the client sent
        return render(fmt, "discovery", {
            "changeset": CHANGESET,
            "contact": "Administrator SP4N-LAPOR! instansi Anda.",
            "key_service": "api_key adalah token peran client yang diterbitkan administrator (POST /v1/tokens).",
            "endpoints": [{
                "specification": SPECIFICATION,
                "url": base,
                "changeset": CHANGESET,
                "type": "production" if svc.settings.environment == "production" else "test",
                "formats": ["text/xml", "application/json"],
            }],
        })

    return await answer(request, produce)


def _service(service) -> dict[str, Any]:
    return {
        "service_code": service.code,
        "service_name": service.name,
        "description": service.description,
        "metadata": True,
        "type": "realtime",
        "keywords": ", ".join(service.keywords),
        "group": service.group,
    }


@router.get("/services.{fmt}", summary="Open311: daftar kategori pengaduan", **route_doc())
async def services(request: Request) -> Response:
    async def produce(fmt: str) -> Response:
        return render(fmt, "services", [_service(service) for service in SERVICES])

    return await answer(request, produce)


@router.get("/services/{service_code}.{fmt}", summary="Open311: atribut satu kategori",
            **route_doc(path_param("service_code", "kode kategori, mis. jalan-jembatan")))
async def service(request: Request, svc: ServicesDep) -> Response:
    async def produce(fmt: str) -> Response:
        code = request.path_params["service_code"]
        if code not in SERVICES_BY_CODE:
            raise Open311Error(404, f"service_code '{code}' tidak ada")
        rules = rules_text(svc.settings.attachment_max_image_pixels, svc.settings.attachment_max_pdf_pages)
        return render(fmt, "service_definition", service_definition(SERVICES_BY_CODE[code], region_choices(), rules))

    return await answer(request, produce)


@lru_cache(maxsize=1)
def region_choices() -> tuple[RegionChoice, ...]:
    """The values of `attribute[region]`: every province and regency/city, by code."""
    return tuple(RegionChoice(region.code, region.name) for region in load_regions() if region.level in (1, 2))
