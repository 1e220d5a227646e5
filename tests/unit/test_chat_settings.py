"""The chat doors refuse unsafe configuration at start (config.py): a door enabled without what
authenticates its webhook and its replies, a short webhook secret, a plain-http API off loopback."""

from __future__ import annotations

import pytest

from tests.unit.test_settings_security import STRONG, production

WHATSAPP = {"whatsapp_enabled": True, "whatsapp_app_secret": "a" * 32, "whatsapp_verify_token": "v" * 40,
            "whatsapp_access_token": "EAAG-token", "whatsapp_phone_number_id": "106540352242922"}
TELEGRAM = {"telegram_enabled": True, "telegram_bot_token": "123456:ABC-DEF", "telegram_webhook_secret": STRONG}


@pytest.mark.parametrize("missing", ["whatsapp_app_secret", "whatsapp_verify_token", "whatsapp_access_token",
                                     "whatsapp_phone_number_id"])
def test_a_whatsapp_door_without_its_secrets_is_refused(missing):
    with pytest.raises(ValueError, match=missing.upper()):
        production(**(WHATSAPP | {missing: None}))


@pytest.mark.parametrize("missing", ["telegram_bot_token", "telegram_webhook_secret"])
def test_a_telegram_door_without_its_secrets_is_refused(missing):
    with pytest.raises(ValueError, match=missing.upper()):
        production(**(TELEGRAM | {missing: None}))


def test_short_webhook_secrets_and_plain_http_are_refused():
    with pytest.raises(ValueError, match="TELEGRAM_WEBHOOK_SECRET has 5 characters"):
        production(**(TELEGRAM | {"telegram_webhook_secret": "short"}))
    with pytest.raises(ValueError, match="WHATSAPP_VERIFY_TOKEN has"):
        production(**(WHATSAPP | {"whatsapp_verify_token": "guessable"}))
    with pytest.raises(ValueError, match="WHATSAPP_API_BASE_URL must be https"):
        production(**(WHATSAPP | {"whatsapp_api_base_url": "http://graph.example.com/v21.0"}))


def test_doors_with_their_secrets_start_and_are_off_by_default():
    assert production(**WHATSAPP, **TELEGRAM).chat_enabled
    assert not production().chat_enabled
    assert production(**(WHATSAPP | {"whatsapp_api_base_url": "http://127.0.0.1:8081/graph"})).whatsapp_enabled
