"""Open311 tests run the real app, worker and read model through tests/api's `api` fixture.

The fixture keeps the API's clock on the test server's for api/routes/complaints.py; here the same
clock is given to the other modules that read the time (intake, Open311, SMS).
"""

from __future__ import annotations

import importlib

import pytest

try:
    from tests.api.conftest import (  # noqa: F401 - fixtures and the api_settings marker, reused
        _skip_sqlite_only_on_postgres,
        api,
        api_database_url,
        new_api_database,
        pytest_configure,
    )
except ImportError:  # a checkout without tests/api: only the tests that need no app run
    collect_ignore_glob = ["test_georeport.py"]


@pytest.fixture(autouse=True)
def _server_clock_everywhere(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if "api" not in request.fixturenames:
        return
    clock = request.getfixturevalue("api").clock
    for name in ("api.intake", "api.routes.open311.common", "api.routes.sms"):
        monkeypatch.setattr(importlib.import_module(name), "timezone", clock)
