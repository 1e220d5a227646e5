"""docker-compose.yml and the Dockerfile must agree with the application they deploy.

No Docker needed: the compose file is parsed with PyYAML and `${VAR...}` references are expanded
the way Compose does it, then compared against `config.Settings`, SQLAlchemy and the Dockerfile.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

from tests.crypto import TEST_ENCRYPTION_KEYS
from sqlalchemy.engine import make_url

from config import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
APP_SERVICES = ("api", "worker")
TEST_ENV = {
    "SP4N_ADMIN_TOKEN": "test-admin-token-of-at-least-32-characters",
    "SECRET_KEY": "test-secret-key-of-at-least-32-characters",
    "METRICS_TOKEN": "test-metrics-token-of-at-least-32-characters",
    "PUBLIC_BASE_URL": "https://lapor.example.go.id",
    "TEMPORAL_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEYS,
}

# $$, ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}, $NAME
_VAR = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<name>[A-Za-z_]\w*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_]\w*))"
)


def interpolate(value, env: dict[str, str]):
    """Expand variables in every string of a parsed compose document, as Compose would."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def expand(m: re.Match) -> str:
        if m["escaped"]:
            return "$"
        name = m["name"] or m["bare"]
        op, arg = m["op"], m["arg"]
        current = env.get(name)
        missing = current is None or (op is not None and op.startswith(":") and current == "")
        if op in ("-", ":-"):
            return arg if missing else current
        if op in ("?", ":?"):
            if missing:
                raise KeyError(f"required variable {name} is not set: {arg}")
            return current
        return current or ""

    return _VAR.sub(expand, value)


def _raw() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services() -> dict:
    return interpolate(_raw(), TEST_ENV)["services"]


def env_of(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # ["KEY=value", ...] form
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def host_ips_of(service: dict) -> list[str | None]:
    """The host address each published port is bound to (None: every interface)."""
    ips = []
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            ips.append(entry.get("host_ip"))
        else:
            parts = str(entry).split("/")[0].split(":")
            ips.append(parts[0] if len(parts) == 3 else None)
    return ips


def ports_of(service: dict) -> list[tuple[int, int]]:
    """(published, container) pairs from short ("8000:8000", "127.0.0.1:80:80") or long syntax."""
    pairs = []
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            pairs.append((int(entry["published"]), int(entry["target"])))
        else:
            parts = str(entry).split("/")[0].split(":")
            pairs.append((int(parts[-2]), int(parts[-1])))
    return pairs


def host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


def dockerfile_cmd() -> list[str]:
    lines = [ln.strip() for ln in DOCKERFILE.read_text().splitlines()]
    cmd = [ln for ln in lines if ln.upper().startswith("CMD ")][-1][4:].strip()
    return json.loads(cmd) if cmd.startswith("[") else shlex.split(cmd)


def flag_value(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def test_expected_services_exist(services):
    for name in ("postgresql", "temporal", "temporal-ui", "api", "worker", "proxy", "prometheus"):
        assert name in services, f"docker-compose.yml lacks service {name!r}"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_env_names_are_settings_fields(services, name):
    prefix = Settings.model_config.get("env_prefix", "").lower()
    fields = {prefix + f for f in Settings.model_fields}
    env = env_of(services[name])
    unknown = sorted(k for k in env if k.lower() not in fields)
    assert not unknown, f"{name} sets variables config.Settings does not read: {unknown}"
    for key in ("TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_TASK_QUEUE", "DATABASE_URL",
                "SP4N_ADMIN_TOKEN", "ENVIRONMENT"):
        assert key in env, f"{name} does not set {key}"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_env_is_accepted_by_settings(services, name):
    env = env_of(services[name])
    settings = Settings(_env_file=None, **{k.lower(): v for k, v in env.items()})
    assert settings.environment == "production"


def test_api_and_worker_share_configuration(services):
    assert env_of(services["api"]) == env_of(services["worker"])


def test_admin_token_is_required_not_defaulted():
    raw = _raw()["services"]
    for name in APP_SERVICES:
        token = env_of(raw[name])["SP4N_ADMIN_TOKEN"]
        assert re.fullmatch(r"\$\{SP4N_ADMIN_TOKEN:\?[^}]*\}", token), (
            f"{name}: SP4N_ADMIN_TOKEN must be ${{SP4N_ADMIN_TOKEN:?...}}, got {token!r}")
    with pytest.raises(KeyError):
        interpolate(_raw(), {})


def test_prometheus_sends_the_apis_metrics_token():
    raw = _raw()
    for name in APP_SERVICES:
        token = env_of(raw["services"][name])["METRICS_TOKEN"]
        assert re.fullmatch(r"\$\{METRICS_TOKEN:\?[^}]*\}", token), f"{name}: METRICS_TOKEN must be required"
    assert raw["secrets"]["metrics_token"] == {"environment": "METRICS_TOKEN"}
    prometheus = raw["services"]["prometheus"]
    assert "metrics_token" in prometheus["secrets"]
    mounts = dict(volume.split(":")[:2][::-1] for volume in prometheus["volumes"] if volume.startswith("./"))
    config = yaml.safe_load((ROOT / mounts["/etc/prometheus/prometheus.yml"]).read_text())
    api_job = next(job for job in config["scrape_configs"] if job["job_name"] == "sp4n-api")
    assert api_job["authorization"] == {"type": "Bearer", "credentials_file": "/run/secrets/metrics_token"}


@pytest.mark.parametrize("name", APP_SERVICES)
def test_temporal_address_points_at_temporal_service(services, name):
    host, port = host_port(env_of(services[name])["TEMPORAL_ADDRESS"])
    assert host == "temporal" and host in services
    assert port == 7233
    assert (7233, port) in ports_of(services["temporal"]), "temporal must publish 7233:7233"


@pytest.mark.parametrize("name", ["temporal", "temporal-ui", "prometheus"])
def test_temporal_is_published_on_the_hosts_loopback_only(services, name):
    """Temporal's frontend and UI have no authentication of their own: never on every interface."""
    ips = host_ips_of(services[name])
    assert ips and all(ip == "127.0.0.1" for ip in ips), ips


def test_the_ui_reads_payloads_through_the_apis_codec_endpoint(services):
    ui, api = env_of(services["temporal-ui"]), env_of(services["api"])
    assert ui["TEMPORAL_CODEC_ENDPOINT"].endswith(":8000/codec")
    origins = Settings(_env_file=None, **{k.lower(): v for k, v in api.items()}).codec_cors_origin_list
    assert ui["TEMPORAL_CORS_ORIGINS"] in origins


def test_secrets_are_required_not_defaulted():
    raw = _raw()["services"]
    for name in APP_SERVICES:
        for variable in ("SECRET_KEY", "TEMPORAL_ENCRYPTION_KEYS"):
            value = env_of(raw[name])[variable]
            assert re.fullmatch(rf"\$\{{{variable}:\?[^}}]*\}}", value), (name, variable, value)


def test_task_queue_and_namespace_match_settings(services):
    env = env_of(services["api"])
    assert env["TEMPORAL_TASK_QUEUE"] == Settings.model_fields["temporal_task_queue"].default
    # The Temporal healthcheck waits for exactly the namespace the app uses.
    check = services["temporal"]["healthcheck"]["test"]
    assert flag_value(check, "--namespace") == env["TEMPORAL_NAMESPACE"]
    assert host_port(flag_value(check, "--address")) == host_port(env["TEMPORAL_ADDRESS"])


@pytest.mark.parametrize("name", APP_SERVICES)
def test_database_url_targets_a_postgres_service(services, name):
    url = make_url(env_of(services[name])["DATABASE_URL"])
    assert url.drivername == "postgresql+psycopg"
    url.get_dialect()  # the driver is importable in this environment
    assert url.host in services, f"DATABASE_URL host {url.host!r} is not a compose service"
    db = services[url.host]
    assert db["image"].startswith("postgres:")
    db_env = env_of(db)
    assert url.port in (None, 5432)
    assert url.username == db_env["POSTGRES_USER"]
    assert url.password == db_env["POSTGRES_PASSWORD"]
    assert url.database == db_env.get("POSTGRES_DB", db_env["POSTGRES_USER"])
    assert services[name]["depends_on"][url.host]["condition"] == "service_healthy"
    assert "healthcheck" in db


def test_temporal_persists_to_the_postgres_service(services):
    env = env_of(services["temporal"])
    assert services["temporal"]["image"].startswith("temporalio/auto-setup:")
    assert not services["temporal"]["image"].endswith(":latest")
    assert env["DB"] == "postgres12"
    assert env["DB_PORT"] == "5432"
    seed = env["POSTGRES_SEEDS"]
    assert seed in services and services[seed]["image"].startswith("postgres:")
    pg_env = env_of(services[seed])
    assert env["POSTGRES_USER"] == pg_env["POSTGRES_USER"]
    assert env["POSTGRES_PWD"] == pg_env["POSTGRES_PASSWORD"]
    assert services["temporal"]["depends_on"][seed]["condition"] == "service_healthy"


def test_temporal_ui_points_at_temporal(services):
    ui = services["temporal-ui"]
    host, port = host_port(env_of(ui)["TEMPORAL_ADDRESS"])
    assert host == "temporal" and host in services
    assert port == 7233
    assert any(container == 8080 for _, container in ports_of(ui))


def test_api_port_matches_dockerfile_cmd(services):
    cmd = dockerfile_cmd()
    port = int(flag_value(cmd, "--port"))
    assert port == 8000
    # The compose API runs the Dockerfile's command, plus trusting the proxy's X-Forwarded-For.
    api_cmd = services["api"]["command"]
    assert api_cmd[:len(cmd)] == cmd
    assert "--proxy-headers" in api_cmd[len(cmd):]
    assert str(port) in [str(p) for p in services["api"]["expose"]]
    check = " ".join(services["api"]["healthcheck"]["test"])
    assert f":{port}/healthz" in check


def test_api_and_worker_run_as_replicas_behind_a_proxy(services):
    for name in APP_SERVICES:
        assert services[name]["deploy"]["replicas"] > 1, f"{name} must run more than one replica"
        # A published host port would stop a second replica from starting.
        assert "ports" not in services[name], f"{name} replicas must not publish a host port"
    proxy = services["proxy"]
    assert (8000, 8080) in ports_of(proxy)
    assert proxy["depends_on"]["api"]["condition"] == "service_healthy"
    source, target = proxy["volumes"][0].split(":")[:2]
    conf = (ROOT / source).read_text()
    assert target == "/etc/nginx/conf.d/default.conf"
    api_port = int(flag_value(services["api"]["command"], "--port"))
    assert re.search(rf"server\s+api:{api_port}\b", conf), "the proxy's upstream is not the api service"
    assert re.search(r"listen\s+8080;", conf)
    assert "proxy_pass http://sp4n_api;" in conf
    assert re.search(r"location = /metrics \{\s*return 404;", conf), "the proxy must not serve /metrics"
    assert "X-Forwarded-For $remote_addr" in conf


def test_prometheus_scrapes_every_replica(services):
    prometheus = services["prometheus"]
    mounts = dict(volume.split(":")[:2][::-1] for volume in prometheus["volumes"] if volume.startswith("./"))
    config = yaml.safe_load((ROOT / mounts["/etc/prometheus/prometheus.yml"]).read_text())
    assert (ROOT / mounts["/etc/prometheus/alerts.yml"]) == ROOT / "ops/prometheus/alerts.yml"
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]
    jobs = {job["job_name"]: job["dns_sd_configs"][0] for job in config["scrape_configs"]}
    assert jobs["sp4n-api"]["names"] == ["api"] and jobs["sp4n-api"]["port"] == 8000
    worker_env = env_of(services["worker"])
    assert jobs["sp4n-worker"]["names"] == ["worker"]
    assert jobs["sp4n-worker"]["port"] == int(worker_env["WORKER_METRICS_PORT"])
    assert worker_env["WORKER_METRICS_HOST"] == "0.0.0.0"


def test_worker_runs_worker_py_from_the_app_image(services):
    api, worker = services["api"], services["worker"]
    command = worker["command"]
    argv = command if isinstance(command, list) else shlex.split(command)
    assert argv[-1] == "worker.py"
    assert worker.get("image") == api.get("image")
    assert worker.get("build") == api.get("build") == "."
    assert "ports" not in worker


def test_dockerfile_runs_the_api():
    assert DOCKERFILE.is_file()
    text = DOCKERFILE.read_text()
    cmd = dockerfile_cmd()
    assert "server:app" in cmd
    assert "uvicorn" in cmd
    assert flag_value(cmd, "--host") == "0.0.0.0"
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.M)
    user = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert user and user[-1] not in ("root", "0"), "the image must run as a non-root user"
