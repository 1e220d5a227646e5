"""A body's own Open311 system, faked on loopback for the connected-body tests: it records what
it is sent and answers as GeoReport v2 (and mySociety's servicerequestupdates) does."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit


@dataclass
class FakeSystem:
    api_key: str = "city-key-123"
    fail_next: int = 0  # answer 503 to this many POSTs first
    refuse: bool = False  # answer 400 to POST requests
    token_only: bool = False  # answer POST requests with a token only (the id comes later)
    requests: list[list[tuple[str, str]]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    comments: list[dict[str, str]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    update_queries: list[dict[str, list[str]]] = field(default_factory=list)
    tokens_resolved: bool = True
    dated_updates: bool = False  # list only the updates between start_date and end_date, as a real system
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/open311/v2/"

    def start(self, port: int = 0) -> FakeSystem:
        """Listen on `port` (a free one when 0; the same one again after `stop`, an outage over)."""
        system = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                path = parts.path.removeprefix("/open311/v2/")
                if path == "services.json":
                    return self._answer(200, [{"service_code": "jalan", "service_name": "Jalan"},
                                              {"service_code": "lain", "service_name": "Lainnya"}])
                if path.startswith("tokens/"):
                    found = system.tokens_resolved
                    return self._answer(200, [{"token": path[7:-5], "service_request_id": "CITY-T1" if found else None}])
                if path == "servicerequestupdates.json":
                    query = parse_qs(parts.query)
                    system.update_queries.append(query)
                    if not system.dated_updates:
                        return self._answer(200, system.updates)
                    start, end = (datetime.fromisoformat(query[name][0]) for name in ("start_date", "end_date"))
                    return self._answer(200, [u for u in system.updates
                                              if start <= datetime.fromisoformat(u["updated_datetime"]) <= end])
                return self._answer(404, [{"code": 404, "description": "not found"}])

            def do_POST(self) -> None:
                path = urlsplit(self.path).path.removeprefix("/open311/v2/")
                form = parse_qsl(self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode(),
                                 keep_blank_values=True)
                if dict(form).get("api_key") != system.api_key:
                    return self._answer(403, [{"code": 403, "description": "bad api_key"}])
                if system.fail_next > 0:
                    system.fail_next -= 1
                    return self._answer(503, [{"code": 503, "description": "down for maintenance"}])
                if path == "requests.json":
                    if system.refuse:
                        return self._answer(400, [{"code": 400, "description": "service_code unknown"}])
                    system.requests.append(form)
                    system.headers.append(dict(self.headers))
                    number = len(system.requests)
                    if system.token_only:
                        return self._answer(201, [{"token": f"tok-{number}"}])
                    return self._answer(201, [{"service_request_id": f"CITY-{number}"}])
                if path == "servicerequestupdates.json":
                    system.comments.append(dict(form))
                    return self._answer(201, [{"update_id": f"CU-{len(system.comments)}"}])
                return self._answer(404, [{"code": 404, "description": "not found"}])

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
