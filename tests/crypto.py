"""The keys every test runs with (test-only values: committed on purpose, never used elsewhere).

tests/conftest.py puts them in the environment before anything reads the settings, so the
processes the tests start (worker, API, dev server stacks) inherit them too.
"""

from __future__ import annotations

from workflows.codec import PayloadKeys, data_converter

# The stored encrypted histories (tests/histories/*.json with "encrypted" in their README row)
# were recorded with this key: changing it makes them unreadable.
TEST_ENCRYPTION_KEYS = "test1:7rH0y5T0ZK8mS7b0k6W9xq1c3V5n7P9r2t4w6y8A0cE"
TEST_PAYLOAD_KEYS = PayloadKeys.parse(TEST_ENCRYPTION_KEYS)
TEST_DATA_CONVERTER = data_converter(TEST_PAYLOAD_KEYS)

TEST_ENVIRONMENT = {
    # Development on loopback: the short tokens and secrets of the tests are accepted there only.
    "ENVIRONMENT": "development",
    "BIND_HOST": "127.0.0.1",
    "TEMPORAL_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEYS,
}
