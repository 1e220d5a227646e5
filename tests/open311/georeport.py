"""Oracles for GeoReport v2 answers: the JSON Schemas of open311/schema-validation (copied in
schemas/, see its README) and the XML ↔ JSON correspondence (parsed with defusedxml)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import httpx
from defusedxml.ElementTree import fromstring
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SCHEMAS = Path(__file__).parent / "schemas"
SCHEMA_NAMES = ("request", "requests", "service", "services", "service-definition")
# A list's items in GeoReport XML are named after it.
LIST_ITEMS = {
    "services": "service", "service_requests": "request", "errors": "error",
    "service_request_updates": "request_update", "endpoints": "endpoint", "formats": "format",
    "attributes": "attribute", "values": "value",
}


@lru_cache
def validator(name: str) -> Draft202012Validator:
    contents = {f"{n}.json": json.loads((SCHEMAS / f"{n}.json").read_text()) for n in SCHEMA_NAMES}
    registry = Registry().with_resources(
        (uri, Resource.from_contents(schema, default_specification=DRAFT202012)) for uri, schema in contents.items()
    )
    return Draft202012Validator(
        contents[f"{name}.json"], registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def assert_valid(name: str, document: Any) -> None:
    errors = sorted(validator(name).iter_errors(document), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def xml_to_value(element) -> Any:
    """The JSON value an element stands for: lists by LIST_ITEMS, text leaves, '' as null."""
    children = list(element)
    if element.tag in LIST_ITEMS:
        return [xml_to_value(child) for child in children]
    if not children:
        return element.text if element.text not in (None, "") else None
    return {child.tag: xml_to_value(child) for child in children}


def as_text(value: Any) -> Any:
    """JSON scalars as XML carries them (text), to compare the two formats."""
    if isinstance(value, list):
        return [as_text(item) for item in value]
    if isinstance(value, dict):
        return {key: as_text(item) for key, item in value.items()}
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def assert_same(json_response: httpx.Response, xml_response: httpx.Response, root: str) -> Any:
    """Both formats answered alike: status, content types, the XML declaration, the same data."""
    assert json_response.status_code == xml_response.status_code, (json_response.text, xml_response.text)
    assert json_response.headers["content-type"].startswith("application/json")
    assert xml_response.headers["content-type"].startswith("text/xml")
    assert xml_response.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    element = fromstring(xml_response.content)
    assert element.tag == root
    data = json_response.json()
    assert xml_to_value(element) == as_text(data)
    return data


async def both(http: httpx.AsyncClient, method: str, path: str, root: str, **kwargs: Any) -> Any:
    """Ask `path` (without its format) in JSON and in XML; the JSON answer once both agree."""
    json_response = await http.request(method, f"{path}.json", **kwargs)
    xml_response = await http.request(method, f"{path}.xml", **kwargs)
    return json_response.status_code, assert_same(json_response, xml_response, root)
