"""The chat doors' acknowledgement (issue 30: "every message is acknowledged at once").

    python -m bench chat                          # concurrency 20, 200 chats per phase, 2 rounds

Everything as in production, in subprocesses on loopback (tests/reliability/stack.py): the
Temporal dev server, `python worker.py` (with the conversations' and the chat channel's queues)
and the API under uvicorn, its WhatsApp door on, the Graph API a stub on loopback
(tests/chat/stub.py). Per phase, `count` chats each write their first message ("halo"), at the
given concurrency:

- webhook: the signed `POST /v1/channels/whatsapp` (signature check, message id claimed once,
           the chat's pace counted, region lookup, signal-with-start of the chat's conversation);
- bare:    a plain Temporal client's signal-with-start of the same workflow and input (the least
           any door must do to hand a message to Temporal).

Printed per phase: acknowledgements per second, p50/p99 of the acknowledgement; for the webhook
phase also the time until the stub received the greeting (the reply the citizen sees). Last line:
`ratio=… webhook_rate=… bare_rate=… webhook_p99_ms=… bare_p99_ms=… reply_p50_ms=… reply_p99_ms=…`.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import tempfile
import time
from pathlib import Path

import httpx

from api.chat import conversation_id, conversation_task_queue
from bench.intake import drive, percentile
from config import Settings
from domain.chat import ChatDoor, ChatMessage
from tests.chat.stub import ACCESS_TOKEN, APP_SECRET, PHONE_NUMBER_ID, VERIFY_TOKEN, serving
from tests.reliability.stack import api_healthy, eventually, running_stack
from workflows.chat import ChatStart, ChatWorkflow
from workflows.client import connect
from workflows.delivery_client import attempt_timeout_seconds, channel_task_queue


def payload(number: str, message_id: str) -> bytes:
    return json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [{
        "field": "messages", "value": {
            "messaging_product": "whatsapp", "metadata": {"phone_number_id": PHONE_NUMBER_ID},
            "messages": [{"from": number, "id": message_id, "timestamp": str(int(time.time())),
                          "type": "text", "text": {"body": "halo"}}]}}]}]}).encode()


async def run(concurrency: int, count: int, rounds: int, workdir: Path) -> dict[str, float]:
    with serving() as stub, running_stack(
        workdir, DEPENDENCY_TIMEOUT_SECONDS="60", WHATSAPP_ENABLED="true", WHATSAPP_APP_SECRET=APP_SECRET,
        WHATSAPP_VERIFY_TOKEN=VERIFY_TOKEN, WHATSAPP_ACCESS_TOKEN=ACCESS_TOKEN,
        WHATSAPP_PHONE_NUMBER_ID=PHONE_NUMBER_ID, WHATSAPP_API_BASE_URL=f"{stub.base_url}/graph",
        CHAT_MESSAGES_PER_MINUTE="100000", NOTIFICATION_CHAT_PER_SECOND="500",
    ) as stack:
        settings = Settings(_env_file=None, **{k.lower(): v for k, v in stack.env.items()
                                               if k in ("TEMPORAL_TASK_QUEUE", "SECRET_KEY")})
        client = await connect(f"127.0.0.1:{stack.temporal_port}", "default")
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency, keepalive_expiry=2.0)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{stack.api_port}", timeout=60, limits=limits) as api:
            await eventually(lambda: api_healthy(api), timeout=60)
            posted_at: dict[str, float] = {}
            serial = iter(range(10**9))

            async def webhook(i: int) -> None:
                n = next(serial)
                number = f"62812{n:08d}"
                body = payload(number, f"wamid.bench.{n}")
                signature = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
                posted_at[number] = time.monotonic()
                response = await api.post("/v1/channels/whatsapp", content=body,
                                          headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature})
                if response.status_code != 200:
                    raise RuntimeError(f"webhook answered {response.status_code}: {response.text}")

            async def bare(i: int) -> None:
                n = next(serial)
                address = f"whatsapp:+62813{n:08d}"
                start = ChatStart(door=ChatDoor.WHATSAPP, address=address,
                                  send_task_queue=channel_task_queue(settings, "chat"),
                                  send_timeout_seconds=attempt_timeout_seconds(settings, "chat"), timeout_seconds=3600)
                await client.start_workflow(ChatWorkflow.run, start, id=conversation_id(settings, address),
                                            task_queue=conversation_task_queue(settings), start_signal="message",
                                            start_signal_args=[ChatMessage(message_id=f"bare.{n}", text="halo")])

            await drive(concurrency * 2, concurrency, webhook)  # warm-up
            await drive(concurrency * 2, concurrency, bare)
            totals: dict[str, list] = {"webhook": [0.0, []], "bare": [0.0, []]}
            for r in range(rounds):
                for name in (("webhook", "bare") if r % 2 == 0 else ("bare", "webhook")):
                    elapsed, latencies = await drive(count, concurrency, webhook if name == "webhook" else bare)
                    totals[name][0] += elapsed
                    totals[name][1] += latencies
                    print(f"round {r + 1} {name:<7}: {count / elapsed:6.1f}/s  p50 {percentile(latencies, .5):6.0f} ms  "
                          f"p99 {percentile(latencies, .99):6.0f} ms  load {os.getloadavg()[0]:.2f}", flush=True)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and len({s.to for s in stub.sent} & set(posted_at)) < len(posted_at):
                await asyncio.sleep(0.2)
            first_reply: dict[str, float] = {}
            for sent in stub.sent:
                first_reply.setdefault(sent.to, sent.at)
            replies = [(first_reply[n] - t) * 1000 for n, t in posted_at.items() if n in first_reply]
    webhook_rate = count * rounds / totals["webhook"][0]
    bare_rate = count * rounds / totals["bare"][0]
    result = {
        "ratio": round(webhook_rate / bare_rate, 3), "webhook_rate": round(webhook_rate, 1),
        "bare_rate": round(bare_rate, 1), "webhook_p99_ms": round(percentile(totals["webhook"][1], .99)),
        "bare_p99_ms": round(percentile(totals["bare"][1], .99)),
        "reply_p50_ms": round(percentile(replies, .5)) if replies else None,
        "reply_p99_ms": round(percentile(replies, .99)) if replies else None,
        "replied": f"{len(replies)}/{len(posted_at)}",
    }
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench chat")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--count", type=int, default=200, help="chats per phase and round")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    print(f"cpus {os.cpu_count()}, load at start {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-chat-") as workdir:
        result = asyncio.run(run(args.concurrency, args.count, args.rounds, Path(workdir)))
    print(" ".join(f"{k}={v}" for k, v in result.items()), flush=True)
    return 0
