"""SMS tests share the Open311 tests' harness (tests/api's `api` fixture, the server's clock)."""

try:
    from tests.open311.conftest import (  # noqa: F401 - fixtures, reused
        _server_clock_everywhere,
        _skip_sqlite_only_on_postgres,
        api,
        api_database_url,
        new_api_database,
        pytest_configure,
    )
except ImportError:  # a checkout without tests/api: only the tests that need no app run
    collect_ignore_glob = ["test_sms.py"]
