"""`make run`'s supervisor (scripts/run_all.py): its ports are chosen by environment variables and
each one, the worker's metrics and the mail catcher's included, is checked free before anything
starts; the mail catcher keeps what it is sent."""

from __future__ import annotations

import os
import smtplib
import socket
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path

from tests.reliability.stack import free_port

ROOT = Path(__file__).resolve().parents[2]


def run_all(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "scripts/run_all.py"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env={**os.environ, **env})


def test_a_busy_port_is_named_with_the_variable_that_moves_it() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        answer = run_all(WORKER_METRICS_PORT=str(port), SP4N_RUN_ONLY="worker")
    assert answer.returncode != 0
    assert f"worker metrics {port} (WORKER_METRICS_PORT)" in answer.stderr, answer.stderr


def test_a_port_that_is_no_port_or_chosen_twice_is_refused() -> None:
    assert "is not a port" in run_all(SP4N_API_PORT="achttausend", SP4N_RUN_ONLY="api").stderr
    same = str(free_port())
    assert "chosen twice" in run_all(SP4N_API_PORT=same, SP4N_MAIL_PORT=same, SP4N_RUN_ONLY="api").stderr


def test_the_mail_catcher_keeps_every_message(tmp_path: Path) -> None:
    port = free_port()
    catcher = subprocess.Popen([sys.executable, "scripts/mail_catcher.py", "--port", str(port), "--dir", str(tmp_path)],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline and catcher.poll() is None, "the mail catcher did not start"
                time.sleep(0.1)
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "noreply@lapor.localhost", "siti@example.id", "Tanda terima"
        message.set_content("Laporan Anda diterima.")
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.send_message(message)
        [kept] = list(tmp_path.glob("*.eml"))
        assert b"Tanda terima" in kept.read_bytes()
    finally:
        catcher.terminate()
        catcher.wait(timeout=10)
