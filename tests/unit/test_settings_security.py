"""Unsafe settings are refused at start, not documented: the shipped secret, short secrets and
tokens, a weak first-admin password, a missing payload key — except in development on loopback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from config import SHIPPED_SECRET_KEY, Settings
from domain.tokens import SecretKeyring, reporter_token, reporter_token_matches
from tests.crypto import TEST_ENCRYPTION_KEYS

ROOT = Path(__file__).resolve().parents[2]
STRONG = "s" * 8 + "-Lq9vT2xWc8ZpR4mN7bKd3hJ6fY1gA5e"  # 40 characters
STRONG_TOKEN = "t" * 40


def settings(**values) -> Settings:
    values.setdefault("temporal_encryption_keys", TEST_ENCRYPTION_KEYS)
    return Settings(_env_file=None, **values)


def production(**values) -> Settings:
    return settings(**({"environment": "production", "secret_key": STRONG, "sp4n_admin_token": STRONG_TOKEN,
                        "metrics_token": "m" * 40, "public_base_url": "https://lapor.example.go.id"} | values))


def test_production_is_the_default(monkeypatch):
    monkeypatch.delenv("ENVIRONMENT", raising=False)
    with pytest.raises(ValueError, match="SP4N_ADMIN_TOKEN must be set"):
        settings()
    assert settings(secret_key=STRONG, sp4n_admin_token=STRONG_TOKEN, metrics_token="m" * 40,
                    public_base_url="https://lapor.example.go.id").environment == "production"


@pytest.mark.parametrize("values", [
    {},  # production
    {"environment": "development", "bind_host": "0.0.0.0"},
    {"environment": "development", "bind_host": "192.168.1.10"},
    {"environment": "staging"},
])
def test_the_shipped_secret_key_is_refused_unless_development_on_loopback(values):
    with pytest.raises(ValueError, match="SECRET_KEY is the shipped default") as caught:
        production(secret_key=SHIPPED_SECRET_KEY, **values)
    assert "secrets.token_urlsafe" in str(caught.value)  # says how to make one


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.2"])
def test_development_on_loopback_may_keep_weak_secrets(host):
    relaxed = settings(environment="development", bind_host=host, secret_key=SHIPPED_SECRET_KEY,
                       sp4n_admin_token="t", sp4n_admin_password="a")
    assert relaxed.relaxed_secrets


@pytest.mark.parametrize("name, value", [
    ("secret_key", "x" * 31),
    ("sp4n_admin_token", "x" * 31),
    ("sms_gateway_inbound_token", "short"),
    ("secret_keys_retired", {"0": "old-and-short"}),
    ("metrics_token", "m" * 31),
])
def test_short_secrets_are_refused_naming_the_setting(name, value):
    with pytest.raises(ValueError, match="fewer than 32") as caught:
        production(**{name: value})
    assert name.upper().split("_RETIRED")[0] in str(caught.value).upper()


@pytest.mark.parametrize("mode", [{}, {"environment": "staging"}, {"environment": "development", "bind_host": "0.0.0.0"}])
def test_an_open_metrics_endpoint_is_refused_unless_development_on_loopback(mode):
    """/metrics counts confidential cases per agency: without a token anyone reaching it reads them."""
    for missing in (None, ""):
        with pytest.raises(ValueError, match="METRICS_TOKEN must be set") as caught:
            production(metrics_token=missing, **mode)
        assert "secrets.token_urlsafe" in str(caught.value)  # says how to make one
    assert settings(environment="development", bind_host="127.0.0.1").metrics_token is None


@pytest.mark.parametrize("password", ["a", "password1234", "admin@lapor.localhost", "qwertyuiop12"])
def test_a_weak_first_admin_password_is_refused(password):
    with pytest.raises(ValueError, match="SP4N_ADMIN_PASSWORD is too weak"):
        production(sp4n_admin_email="admin@lapor.localhost", sp4n_admin_password=password)


def test_a_strong_first_admin_password_is_accepted():
    production(sp4n_admin_email="admin@lapor.localhost", sp4n_admin_password="Tq7-walang-Kupu9-Rindang")


def test_temporal_encryption_keys_are_required_in_every_mode():
    for mode in ({}, {"environment": "development"}):
        with pytest.raises(ValueError, match="TEMPORAL_ENCRYPTION_KEYS is not set"):
            production(temporal_encryption_keys=None, **mode)


def test_reporter_tokens_survive_a_rotation_of_the_secret_key():
    before = production(secret_key_id="1", secret_key=STRONG)
    token = reporter_token(before.secret_keyring, "LAP-ROTATE01")
    assert token.startswith("rt_1.")
    after = production(secret_key_id="2", secret_key="n" * 40, secret_keys_retired={"1": STRONG})
    assert reporter_token_matches(after.secret_keyring, "LAP-ROTATE01", token)
    assert reporter_token(after.secret_keyring, "LAP-ROTATE01").startswith("rt_2.")
    assert not reporter_token_matches(after.secret_keyring, "LAP-OTHER0001", token)
    # Once the old key is dropped, its tokens stop working (and nothing else does).
    dropped = production(secret_key_id="2", secret_key="n" * 40)
    assert not reporter_token_matches(dropped.secret_keyring, "LAP-ROTATE01", token)


def test_a_token_from_before_key_ids_still_matches_its_key():
    from domain.tokens import REPORTER_PREFIX, keyed_digest

    legacy = REPORTER_PREFIX + keyed_digest(STRONG, "reporter", "LAP-LEGACY001")
    ring = SecretKeyring("2", {"1": STRONG, "2": "n" * 40})
    assert reporter_token_matches(ring, "LAP-LEGACY001", legacy)
    assert not reporter_token_matches(SecretKeyring("2", {"2": "n" * 40}), "LAP-LEGACY001", legacy)


@pytest.mark.parametrize("command", [
    [sys.executable, "-c", "import server"],
    [sys.executable, "worker.py"],
])
def test_the_api_and_the_worker_refuse_to_start_with_the_default_secret_in_production(command):
    env = {"PATH": "/usr/bin:/bin", "ENVIRONMENT": "production", "SP4N_ADMIN_TOKEN": STRONG_TOKEN,
           "TEMPORAL_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEYS, "TEMPORAL_ADDRESS": "127.0.0.1:9",
           "DATABASE_URL": "sqlite:///:memory:"}
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    assert "SECRET_KEY is the shipped default" in run.stderr


@pytest.mark.parametrize("values", [{}, {"environment": "development", "bind_host": "0.0.0.0"}])
def test_links_need_a_public_base_url_outside_development_on_loopback(values):
    """Without it, links (a reporter's private link carries their token) would come from the Host
    header a request brings (issue 24)."""
    with pytest.raises(ValueError, match="PUBLIC_BASE_URL must be set"):
        production(public_base_url=None, **values)
    assert production(**values).base_url == "https://lapor.example.go.id"
    relaxed = settings(environment="development", bind_host="127.0.0.1", bind_port=8123)
    assert relaxed.base_url == "http://127.0.0.1:8123"


@pytest.mark.parametrize("url", ["lapor.example.go.id", "ftp://lapor.example.go.id", "https://",
                                 "https://a@evil.example", "https://lapor.example.go.id/?next=x"])
def test_a_public_base_url_that_is_no_site_address_is_refused(url):
    with pytest.raises(ValueError, match="PUBLIC_BASE_URL must be an http"):
        production(public_base_url=url)
