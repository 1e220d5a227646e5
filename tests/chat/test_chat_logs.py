"""What the chat doors leave in the logs: never the bot token that Telegram puts in every URL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.chat.stub import BOT_TOKEN, serving

ROOT = Path(__file__).resolve().parents[2]

# A worker's logging as configured for production, sending one reply into a Telegram chat.
SEND_ONE_REPLY = """
import sys
from config import Settings
from telemetry.tracing import configure_logging
from activities.chat import ChatApi
settings = Settings(_env_file=None, environment="development", bind_host="127.0.0.1",
                    telegram_enabled=True, telegram_bot_token=sys.argv[1],
                    telegram_webhook_secret="s" * 32, telegram_api_base_url=sys.argv[2])
configure_logging(settings)
api = ChatApi(settings)
api.send_text("telegram:5550123", "Laporan Anda diterima")
api.close()
print("sent", file=sys.stderr)
"""


def test_a_reply_into_a_telegram_chat_never_writes_the_bot_token_to_the_log() -> None:
    with serving() as stub:
        run = subprocess.run([sys.executable, "-c", SEND_ONE_REPLY, BOT_TOKEN, stub.base_url],
                             capture_output=True, text=True, timeout=60, cwd=ROOT,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert run.returncode == 0, run.stderr
        assert stub.texts_to("telegram:5550123") == ["Laporan Anda diterima"]  # it did go out
    assert "sent" in run.stderr
    assert BOT_TOKEN not in run.stderr + run.stdout
