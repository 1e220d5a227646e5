"""openapi.json at the repository root is the API as the code describes it, and it is documented."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[2]
METHODS = {"get", "post", "put", "patch", "delete"}


def export_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("export_openapi", ROOT / "scripts" / "export_openapi.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generated() -> str:
    return export_script().generate()


@pytest.fixture(scope="module")
def spec(generated: str) -> dict:
    return json.loads(generated)


def operations(spec: dict):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield f"{method.upper()} {path}", operation


def test_committed_openapi_json_matches_the_app(generated: str) -> None:
    committed = (ROOT / "openapi.json").read_text(encoding="utf-8")
    assert committed == generated, (
        "openapi.json differs from what the app generates: run `python scripts/export_openapi.py` "
        "and commit it (or `--check` to see the diff)"
    )


def test_check_mode_reports_drift(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = export_script()
    target = tmp_path / "openapi.json"
    assert script.main(["--output", str(target)]) == 0
    assert script.main(["--check", "--output", str(target)]) == 0
    stale = json.loads(target.read_text(encoding="utf-8"))
    stale["info"]["version"] = "0.0.0"
    target.write_text(json.dumps(stale, sort_keys=True, indent=2) + "\n", encoding="utf-8")
    assert script.main(["--check", "--output", str(target)]) == 1
    assert '"version": "0.0.0"' in capsys.readouterr().out


def test_the_contract_paths_are_there(spec: dict) -> None:
    documented = {name for name, _ in operations(spec)}
    contract = {
        "POST /v1/complaints", "GET /v1/complaints", "GET /v1/complaints/{tracking_id}",
        "POST /v1/complaints/{tracking_id}/verification", "POST /v1/complaints/{tracking_id}/supplements",
        "POST /v1/complaints/{tracking_id}/dispositions", "POST /v1/complaints/{tracking_id}/follow-ups",
        "POST /v1/complaints/{tracking_id}/reroute", "POST /v1/complaints/{tracking_id}/replies",
        "POST /v1/complaints/{tracking_id}/rating", "POST /v1/tokens", "GET /v1/agencies",
        "GET /v1/agencies/{agency_id}", "GET /v1/routing/suggestions", "GET /v1/stats", "GET /healthz",
    }
    assert contract <= documented, sorted(contract - documented)


def test_every_operation_has_a_summary_and_tags(spec: dict) -> None:
    missing = [name for name, op in operations(spec) if not op.get("summary", "").strip() or not op.get("tags")]
    assert not missing, missing


def body_models() -> dict[str, type[BaseModel]]:
    """Request models by class name, from the modules the app's routes live in."""
    found: dict[str, type[BaseModel]] = {}
    for name, module in list(sys.modules.items()):
        if name == "api" or name.startswith("api."):
            for value in vars(module).values():
                if isinstance(value, type) and issubclass(value, BaseModel):
                    found.setdefault(value.__name__, value)
    return found


def test_every_request_body_has_examples_that_validate(spec: dict) -> None:
    schemas = spec["components"]["schemas"]
    models = body_models()
    problems = []
    for name, operation in operations(spec):
        body = operation.get("requestBody")
        if body is None or "application/json" not in body["content"]:
            continue  # multipart uploads (attachments) carry files, not JSON examples
        schema = body["content"]["application/json"]["schema"]
        component = schema["$ref"].rsplit("/", 1)[-1] if "$ref" in schema else None
        resolved = schemas[component] if component else schema
        examples = resolved.get("examples") or body["content"]["application/json"].get("examples")
        if not examples:
            problems.append(f"{name}: request body {component} has no examples")
            continue
        model = models.get(component or "")
        for example in examples if isinstance(examples, list) else [e["value"] for e in examples.values()]:
            try:
                model.model_validate(example) if model else None
            except Exception as error:  # noqa: BLE001
                problems.append(f"{name}: an example of {component} does not validate: {error}")
    assert not problems, "\n".join(problems)


def test_errors_are_documented_as_problems(spec: dict) -> None:
    assert set(spec["components"]["schemas"]["Problem"]["required"]) == {"type", "title", "status", "detail"}
    undocumented = [
        f"{name} {status}"
        for name, operation in operations(spec)
        for status, response in operation["responses"].items()
        if status[0] in "45" and name != "GET /healthz"
        # GeoReport v2 prescribes its own error list for Open311 (JSON or XML).
        and " /open311/" not in name
        and "application/problem+json" not in response.get("content", {})
    ]
    assert not undocumented, undocumented
