"""The trust boundary around Temporal, on the real stack (dev server, worker, API as processes).

A case whose reporter is anonymous and confidential goes in with distinctive identity strings
while its projection fails and is retried; then nothing of that identity may be found in the
workflow history (`temporal workflow show -o json`, and the HTTP API the UI reads), nor in any
log line the processes wrote. A forged update sent with Temporal's CLI (plain JSON claiming to
be an administrator) is refused and changes nothing. An administrator still reads the case
through the codec endpoint. Keys rotate: the old case stays readable and actionable, and a worker
holding the wrong key says so and loses nothing.
"""

from __future__ import annotations

import base64
import json
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.crypto import TEST_ENCRYPTION_KEYS
from tests.reliability.stack import ADMIN_TOKEN, Stack, free_port, running_stack
from workflows.codec import new_key_entry

pytestmark = pytest.mark.sqlite_only  # the projection failure is injected with a SQLite trigger

NAME = "Wiryawan Qzxbelo Satriadhi"
EMAIL = "wiryawan.qzxbelo@contoh-unik.id"
PHONE = "+6281299117733"
ADDRESS = "Gang Kenari Qzxbelo No. 17"
SECRETS = [NAME, EMAIL, PHONE, ADDRESS, "Qzxbelo", "qzxbelo", "99117733"]
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    http_port, ui_port = free_port(), free_port()
    with running_stack(tmp_path, temporal_args=("--http-port", str(http_port), "--ui-port", str(ui_port)),
                       SMTP_HOST="127.0.0.1", SMTP_PORT=str(free_port())) as running:  # nothing listens
        running.http_port, running.ui_port = http_port, ui_port  # type: ignore[attr-defined]
        yield running


def temporal_cli(stack: Stack, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    command = [shutil.which("temporal") or "temporal", *args, "--address", f"127.0.0.1:{stack.temporal_port}"]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=check)


def wait_for(predicate, timeout: float = 60, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"{what} not reached within {timeout} s")


def history_text(stack: Stack, tracking_id: str) -> str:
    return temporal_cli(stack, "workflow", "show", "-w", tracking_id, "-o", "json").stdout


def assert_no_identity(text: str, where: str) -> None:
    found = [secret for secret in SECRETS if secret in text]
    assert not found, f"{where} holds {found}"


def test_temporal_and_the_logs_never_hold_the_reporters_identity(stack: Stack):
    database = sqlite3.connect(stack.workdir / "sp4n.db")
    api = httpx.Client(base_url=f"http://127.0.0.1:{stack.api_port}", timeout=30)
    # The read model refuses the case for a while: its projection fails and is retried.
    wait_for(lambda: database.execute("SELECT 1 FROM sqlite_master WHERE name='complaints'").fetchone(),
             what="the read model's schema")
    database.execute("CREATE TRIGGER refuse_cases BEFORE INSERT ON complaints "
                     "BEGIN SELECT RAISE(ABORT, 'injected outage'); END")
    database.commit()
    submitted = api.post("/v1/complaints", json={
        "title": "Jalan berlubang depan rumah", "description": "Lubang besar, sudah dua motor jatuh.",
        "region_code": "62.71", "anonymous": True, "confidential": True,
        "location": {"address": ADDRESS},
        "reporter": {"name": NAME, "email": EMAIL, "phone": PHONE},
    })
    assert submitted.status_code == 201, submitted.text
    tracking_id = submitted.json()["tracking_id"]
    worker_log = stack.workdir / "worker.log"
    wait_for(lambda: worker_log.read_text(errors="replace").count("injected outage") >= 2, 90,
             "two failed projections in the worker's log")
    database.execute("DROP TRIGGER refuse_cases")
    database.commit()
    wait_for(lambda: database.execute("SELECT 1 FROM complaints WHERE tracking_id=?", (tracking_id,)).fetchone(),
             90, "the case in the read model after the outage")

    # An administrator sees the identity (through the API, which holds the key) ...
    seen = api.get(f"/v1/complaints/{tracking_id}", headers=ADMIN).json()
    assert NAME in json.dumps(seen)

    # ... Temporal, its CLI and the HTTP API its UI reads hold none of it.
    history = history_text(stack, tracking_id)
    assert '"eventType"' in history or "EVENT_TYPE" in history
    assert_no_identity(history, "temporal workflow show")
    http = httpx.get(f"http://127.0.0.1:{stack.http_port}/api/v1/namespaces/default/workflows/{tracking_id}/history",
                     timeout=30)
    assert http.status_code == 200, http.text
    assert_no_identity(http.text, "Temporal's HTTP API")
    ui = httpx.get(f"http://127.0.0.1:{stack.ui_port}/api/v1/namespaces/default/workflows/{tracking_id}/history",
                   timeout=30)
    assert ui.status_code == 200 and "events" in ui.text, ui.text[:300]
    assert_no_identity(ui.text, "Temporal UI's HTTP API")
    described = temporal_cli(stack, "workflow", "describe", "-w", tracking_id, "-o", "json").stdout
    assert_no_identity(described, "temporal workflow describe (search attributes, memo)")

    # A forged update: plain JSON from the CLI, claiming to be an administrator.
    before = api.get(f"/v1/complaints/{tracking_id}", headers=ADMIN).json()
    forged = temporal_cli(stack, "workflow", "update", "execute", "-w", tracking_id, "--name", "verify",
                          "-i", json.dumps({"actor": {"role": "admin", "name": "forger"}, "decision": "reject",
                                            "reason": "out_of_scope", "note": "forged"}), check=False)
    assert forged.returncode != 0, forged.stdout
    assert "refused" in (forged.stderr + forged.stdout).lower() or "PayloadRefused" in forged.stderr + forged.stdout
    forged_signal = temporal_cli(stack, "workflow", "signal", "-w", tracking_id, "--name", "amend_calendar",
                                 "-i", json.dumps({"version": 99, "added": ["2030-01-01"]}), check=False)
    time.sleep(1.5)
    after = api.get(f"/v1/complaints/{tracking_id}", headers=ADMIN).json()
    assert after["status"] == before["status"] == "awaiting_verification"
    assert after["timeline"] == before["timeline"]
    assert "forger" not in json.dumps(after) and "forged" not in history_text(stack, tracking_id)
    assert forged_signal.returncode == 0  # Temporal takes the signal; the worker drops it unread

    # The administrator reads the case in Temporal through the codec endpoint; the reporter's
    # identity there is only the blob sealed under the case's own key (issue 26, docs/privacy.md).
    decoded = decoded_payloads(json.loads(temporal_cli(
        stack, "workflow", "show", "-w", tracking_id, "-o", "json",
        "--codec-endpoint", f"http://127.0.0.1:{stack.api_port}/codec", "--codec-auth", f"Bearer {ADMIN_TOKEN}").stdout))
    assert "Jalan berlubang depan rumah" in decoded and "sp4n-sealed/v1:" in decoded
    assert_no_identity(decoded, "the history decoded through the codec endpoint")
    assert api.post("/codec/decode", json={"payloads": []}).status_code == 401

    # Every line any process wrote: ids, never the identity.
    api.close()
    database.close()
    stack.stop_all()
    for log in stack.workdir.glob("*.log"):
        text = log.read_text(errors="replace")
        assert_no_identity(text, log.name)
    assert "injected outage" in worker_log.read_text(errors="replace")  # the failures were logged
    assert "Temporal payload refused" in worker_log.read_text(errors="replace")  # and the forgeries


def test_keys_rotate_and_a_wrong_key_loses_nothing(stack: Stack):
    api = httpx.Client(base_url=f"http://127.0.0.1:{stack.api_port}", timeout=30)
    old = api.post("/v1/complaints", json={
        "title": "Lampu jalan mati", "description": "Sudah seminggu gelap.", "region_code": "62.71",
        "reporter": {"name": NAME},
    })
    assert old.status_code == 201, old.text
    tracking_id = old.json()["tracking_id"]
    wait_for(lambda: api.get(f"/v1/complaints/{tracking_id}", headers=ADMIN).status_code == 200)

    # A worker given only a key the case was never written with: it says so, and waits.
    stack.kill("worker")
    stranger = new_key_entry("stranger")
    stack.env["TEMPORAL_ENCRYPTION_KEYS"] = stranger
    stack.start("worker")
    stack.env["TEMPORAL_ENCRYPTION_KEYS"] = TEST_ENCRYPTION_KEYS  # the API (not restarted) keeps its key
    worker_log = stack.workdir / "worker.log"

    def worker_names_the_missing_key() -> bool:
        # Each query makes the worker replay the case (the dead worker's sticky queue times out first).
        temporal_cli(stack, "workflow", "query", "-w", tracking_id, "--name", "state", check=False)
        return "TEMPORAL_ENCRYPTION_KEYS does not hold" in worker_log.read_text(errors="replace")

    wait_for(worker_names_the_missing_key, 90, "the worker naming the missing key")
    accept = {"decision": "accept", "agency_id": "pemkot-62.71", "note": "diteruskan"}
    answer = api.post(f"/v1/complaints/{tracking_id}/verification", headers=ADMIN, json=accept)
    assert answer.status_code == 503, answer.text  # the worker cannot read the case: no answer in time

    # Rotation done right: the new key first, the old one kept. The case goes on, once.
    stack.kill("worker")
    rotated = f"{new_key_entry('k2')},{TEST_ENCRYPTION_KEYS}"
    stack.env["TEMPORAL_ENCRYPTION_KEYS"] = rotated
    stack.start("worker")
    stack.processes["api"].terminate()
    stack.processes["api"].wait(timeout=20)
    stack.start("api")

    def accepted() -> dict | None:
        # The accept sent while the worker could not read the case may have waited and applied;
        # if Temporal gave it up, sending it again applies it. Either way: once.
        case = api.get(f"/v1/complaints/{tracking_id}", headers=ADMIN).json()
        if case.get("status") == "awaiting_verification":
            api.post(f"/v1/complaints/{tracking_id}/verification", headers=ADMIN, json=accept)
            case = api.get(f"/v1/complaints/{tracking_id}", headers=ADMIN).json()
        return case if case.get("status") == "awaiting_agency" else None

    case = wait_for(accepted, 90, "the case accepted once the worker holds the key again")
    assert NAME in json.dumps(case)
    assert sum(1 for event in case["timeline"] if event["action"] == "accept") == 1
    # What the rotated worker and API wrote names k2; what came before still reads under test1.
    history = json.loads(history_text(stack, tracking_id))
    key_ids = {
        base64.b64decode(payload["metadata"]["encryption-key-id"]).decode()
        for event in history["events"]
        for payload in _payloads(event)
        if "encryption-key-id" in payload.get("metadata", {})
    }
    assert {"test1", "k2"} <= key_ids
    api.close()


def decoded_payloads(history: dict) -> str:
    """The data of every payload of a JSON history, base64-decoded and joined."""
    return "\n".join(base64.b64decode(p.get("data", "")).decode(errors="replace") for p in _payloads(history))


def _payloads(node):
    if isinstance(node, dict):
        if "metadata" in node and "data" in node:
            yield node
        for value in node.values():
            yield from _payloads(value)
    elif isinstance(node, list):
        for value in node:
            yield from _payloads(value)
