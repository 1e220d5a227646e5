"""Runtime configuration, read from the environment (one place for every setting)."""

import ipaddress
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.policy import CURRENT_POLICY_VERSION, Policy, policy_in_force
from domain.payload_keys import PayloadKeys
from domain.tokens import SecretKeyring

SHIPPED_SECRET_KEY = "dev-only-secret-change-me"
MIN_SECRET_CHARS = 32
MIN_ADMIN_PASSWORD_CHARS = 12
# zxcvbn's scale: 3 = "safely unguessable: moderate protection from offline slow-hash scenario".
MIN_ADMIN_PASSWORD_SCORE = 3
HOW_TO_MAKE_A_SECRET = 'make one with `python -c "import secrets; print(secrets.token_urlsafe(48))"`'


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # `production` unless explicitly `development`: only development bound to loopback (BIND_HOST)
    # may keep the shipped SECRET_KEY, short tokens and a weak first-admin password.
    environment: str = "production"
    # Where `python -m api` listens (0.0.0.0 in a container).
    bind_host: str = "127.0.0.1"
    bind_port: int = 8000
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "complaints"
    database_url: str = "sqlite:///./sp4n.db"
    sp4n_admin_token: str | None = None
    # The web portal's first administrator account, created at start when it does not exist yet
    # (sign in at /masuk; more staff accounts are made at /admin/staf).
    sp4n_admin_email: str | None = None
    sp4n_admin_password: str | None = None
    # Where people reach the portal (e.g. https://lapor.example.go.id): every link in pages and
    # mails is built from it, never from a request's Host header (which the sender chooses).
    # Required unless development on loopback (there: http://127.0.0.1:BIND_PORT).
    public_base_url: str | None = None
    # Bring the schema up to date and seed the directory at start; production may migrate explicitly.
    auto_migrate: bool = True
    # How long the API waits for Temporal or the database before answering 503.
    dependency_timeout_seconds: float = 5.0
    # Reporter tokens are derived from the tracking id with this key (nothing to store or leak);
    # each token names SECRET_KEY_ID, so a rotated key moves to SECRET_KEYS_RETIRED
    # ('{"id": "old secret"}', JSON) and the tokens it made keep working.
    secret_key: str = SHIPPED_SECRET_KEY
    secret_key_id: str = Field(default="1", pattern=r"^[A-Za-z0-9-]{1,16}$")
    secret_keys_retired: dict[str, str] = Field(default_factory=dict)
    # Temporal payload encryption (workflows/codec.py): "id:base64url,..." with the current key
    # first; `python -m workflows.codec new-key` makes one. Required: no default, in any mode.
    temporal_encryption_keys: str | None = None
    # Origins of Temporal UIs allowed to call the codec endpoint (/codec) from the browser,
    # comma-separated.
    codec_cors_origins: str = "http://localhost:8233,http://127.0.0.1:8233"
    max_body_bytes: int = 64 * 1024
    # Submissions per client (token, or address when anonymous) per minute; 0 turns it off.
    submission_rate_limit_per_minute: int = 60
    # Searches for similar reports (/lapor/serupa, the form's "check for similar reports") per
    # client per minute: each reads a few hundred cases, and many in a row probe the open cases.
    similar_search_per_minute: int = Field(default=30, ge=0)
    # Supporting and following a case (issue 24; portal/following.py): supports per client per
    # minute (/kasus/*/dukung, /lapor/dukung/*); a follow sends one confirmation mail whose link
    # works FOLLOW_CONFIRM_HOURS; an address with an unanswered one gets no other; confirmation
    # mails per address and per client per day; followers per case.
    support_per_minute: int = Field(default=10, ge=0)
    follow_confirm_hours: int = Field(default=48, ge=1)
    follow_requests_per_address_per_day: int = Field(default=3, ge=1)
    follow_requests_per_client_per_day: int = Field(default=10, ge=1)
    followers_per_case_max: int = Field(default=500, ge=1)
    page_size_max: int = 200
    # --- Hostile input (issue 13; docs/security.md "Safety limits") ----------------------------------------
    # Country calling codes a reporter's (or a token's) phone number may have: Indonesia alone by
    # default, so that nobody can make the service send SMS to a premium-rate number abroad.
    # JSON in the environment: PHONE_COUNTRY_CODES='[62, 65]'.
    phone_country_codes: list[int] = Field(default=[62], min_length=1)
    # The proxies whose X-Forwarded-For names the client: the address that submission, upload and
    # sign-in limits count. The same variable uvicorn reads (FORWARDED_ALLOW_IPS, like its
    # --forwarded-allow-ips); `make run` passes it on. Uvicorn's default, 127.0.0.1, unless set:
    # comma-separated addresses or networks; "*" only where nothing but the proxy reaches the API.
    forwarded_allow_ips: str = "127.0.0.1"
    # Staff sign-in (portal/throttle.py): failures from one address on one account before the
    # wait between attempts starts doubling, from SIGN_IN_BACKOFF_BASE_SECONDS up to the maximum;
    # an account's failures from all addresses together before each new attempt waits (never a
    # lockout: the owner from another address waits at most SIGN_IN_ACCOUNT_DELAY_MAX_SECONDS).
    sign_in_free_failures: int = Field(default=5, ge=1)
    sign_in_backoff_base_seconds: float = Field(default=2.0, gt=0)
    sign_in_backoff_max_seconds: float = Field(default=900.0, gt=0)
    sign_in_account_free_failures: int = Field(default=50, ge=1)
    sign_in_account_delay_max_seconds: float = Field(default=30.0, gt=0)
    # Sign-in attempts per address per minute across all accounts (one password tried on many).
    sign_in_per_address_per_minute: int = Field(default=30, ge=1)
    # --- end of hostile input ----------------------------------------------------------------------
    # Inbound SMS (POST /v1/channels/sms): the gateway's bearer token; unset, the webhook answers 401.
    sms_gateway_inbound_token: str | None = None
    # The policy version new cases are stamped with (domain/policy.py POLICIES). `latihan.v1` is
    # the drill policy: a working day of POLICY_WORKING_DAY_SECONDS (60 by default) of wall-clock
    # time; refused in production.
    policy_version: str = CURRENT_POLICY_VERSION
    policy_working_day_seconds: int | None = Field(default=None, ge=1)
    # Workflows the worker keeps in memory between tasks (Temporal's sticky cache). An open case
    # not in the cache is replayed from its history when its next timer or action comes.
    worker_max_cached_workflows: int = Field(default=1000, ge=0)
    # Routing learns from decisions (activities/routing_learning.py): a Temporal Schedule made at
    # worker start trains a new version this often when there are new examples (imports train at
    # once); 0 makes no schedule.
    routing_retrain_seconds: float = Field(default=300.0, ge=0)

    # --- Operating it (issue 18; ops/) ------------------------------------------------------------
    # The worker's Prometheus endpoint (http://WORKER_METRICS_HOST:WORKER_METRICS_PORT/metrics: our
    # metrics and the Temporal SDK's); 0 turns it off. The API serves /metrics on its own port.
    worker_metrics_host: str = "127.0.0.1"
    worker_metrics_port: int = Field(default=9464, ge=0, le=65535)
    # The API's /metrics wants `Authorization: Bearer <METRICS_TOKEN>` (its gauges count
    # confidential cases per agency). Required, 32+ characters, unless development on loopback.
    metrics_token: str | None = None
    # The read-model gauges of /metrics (open cases, overdue, failed deliveries) are recomputed
    # at most this often.
    metrics_read_model_cache_seconds: float = Field(default=15.0, ge=0)
    # Traces leave the process by OTLP/HTTP only when this is set (e.g. http://127.0.0.1:4318).
    otel_exporter_otlp_endpoint: str | None = None
    # Logs: json (default in production) or console (readable; default elsewhere); the level.
    log_format: Literal["json", "console"] | None = None
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    # --- Notification delivery (issues 5 and 14; activities/notifications.py, workflows/delivery.py)
    # Email over SMTP; no SMTP_HOST means email is not sent (deliveries fail; resend once set).
    smtp_host: str | None = None
    # Development only (`make run`): the folder where scripts/mail_catcher.py keeps what it caught;
    # the portal lists it for administrators (/admin/surat). Ignored outside development.
    mail_catcher_dir: str | None = None
    smtp_port: int = 25
    smtp_from: str = "SP4N-LAPOR! <no-reply@lapor.localhost>"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_ssl: bool = False  # implicit TLS (port 465)
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)  # each step of the SMTP conversation
    # SMS through a generic JSON POST gateway: {"to", "message", "reference"} with a bearer token.
    sms_gateway_url: str | None = None
    sms_gateway_token: str | None = None
    sms_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    sms_read_timeout_seconds: float = Field(default=10.0, gt=0)
    webhook_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    webhook_read_timeout_seconds: float = Field(default=10.0, gt=0)
    # A webhook is disabled after this many consecutive failed attempts (admins are told).
    webhook_failure_limit: int = 10
    # Webhooks may only point at public addresses; hosts listed here (e.g. ["127.0.0.1"] for a
    # test or on-premise receiver, as a JSON list) are exempt from that check.
    webhook_allowed_hosts: list[str] = Field(default_factory=list)
    # Webhooks one agency may register (the national administrators' own count as one agency).
    webhook_max_per_agency: int = Field(default=10, ge=0)
    # Each delivery is a Temporal activity, attempted up to this many times with exponential
    # backoff (base * 2**(attempt-1) seconds, capped), then dead-lettered (`failed`).
    notification_max_attempts: int = Field(default=6, ge=1)
    notification_retry_base_seconds: float = Field(default=30.0, gt=0)
    notification_retry_max_seconds: float = Field(default=3600.0, gt=0)
    # Each channel has its own task queue (<TEMPORAL_TASK_QUEUE>-email, -sms, -webhook): how many
    # sends one worker runs at once, and how many sends per second the whole queue may start
    # (Temporal's task-queue rate limit, e.g. the SMTP provider's messages per second).
    notification_email_concurrency: int = Field(default=4, ge=1)
    notification_email_per_second: float = Field(default=10.0, gt=0)
    notification_sms_concurrency: int = Field(default=4, ge=1)
    notification_sms_per_second: float = Field(default=5.0, gt=0)
    notification_webhook_concurrency: int = Field(default=8, ge=1)
    notification_webhook_per_second: float = Field(default=20.0, gt=0)
    # Poll the channel queues inside `python worker.py` (off: run senders elsewhere, or none).
    notifications_enabled: bool = True
    # --- end of notification delivery ------------------------------------------------------------

    # --- Connected bodies (issue 27; activities/connected.py, workflows/connected.py) -------------
    # A connected body's Open311 endpoint must be https; plain http only to the hosts listed here
    # (JSON list, e.g. ["127.0.0.1"] for an on-premise system or a test). Checked after DNS like
    # a webhook's address (activities/webhook_targets.py); redirects are never followed.
    connected_allowed_hosts: list[str] = Field(default_factory=list)
    # Each connected body's updates are read this often (a Temporal Schedule per body).
    connected_sync_seconds: float = Field(default=60.0, gt=0)
    # Each read starts this long before the newest update already read: an update the body
    # recorded late (its read model lagging) is still found; one already applied is skipped by id.
    connected_sync_overlap_seconds: float = Field(default=600.0, ge=0)
    # A forward is retried with exponential backoff (base, capped) until the body acknowledges it;
    # after this long without acknowledgement the national administrators are told.
    connected_retry_base_seconds: float = Field(default=10.0, gt=0)
    connected_retry_max_seconds: float = Field(default=600.0, gt=0)
    connected_alert_after_seconds: float = Field(default=3600.0, gt=0)
    connected_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    connected_read_timeout_seconds: float = Field(default=15.0, gt=0)
    # Media links we give a body (signed, expiring; PUBLIC_BASE_URL must be set for them).
    connected_media_link_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    # --- end of connected bodies -------------------------------------------------------------------
    # --- Chat doors (issue 30; api/routes/chat.py, workflows/chat.py, activities/chat.py) ---------
    # WhatsApp Business Cloud API: the webhook's verify token (the GET handshake), the app secret
    # (X-Hub-Signature-256 of every POST), the access token and phone number id that send replies
    # through the Graph API at WHATSAPP_API_BASE_URL (a stub on loopback in tests). Outside the
    # 24-hour customer-service window a case's news go as the approved template
    # WHATSAPP_TEMPLATE_NAME (one body parameter: the message), in WHATSAPP_TEMPLATE_LANGUAGE.
    whatsapp_enabled: bool = False
    whatsapp_verify_token: str | None = None
    whatsapp_app_secret: str | None = None
    whatsapp_access_token: str | None = None
    whatsapp_phone_number_id: str | None = Field(default=None, pattern=r"^[0-9]{1,30}$")
    whatsapp_api_base_url: str = "https://graph.facebook.com/v21.0"
    whatsapp_template_name: str = Field(default="sp4n_kabar_laporan", pattern=r"^[a-z0-9_]{1,512}$")
    whatsapp_template_language: str = Field(default="id", pattern=r"^[a-z]{2}(_[A-Z]{2})?$")
    # Telegram Bot API: the bot's token, and the secret Telegram sends back in
    # X-Telegram-Bot-Api-Secret-Token (given to setWebhook as secret_token: 1-256 of A-Z a-z 0-9 _ -).
    telegram_enabled: bool = False
    telegram_bot_token: str | None = None
    telegram_webhook_secret: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,256}$")
    telegram_api_base_url: str = "https://api.telegram.org"
    # A conversation left unfinished this long is forgotten (and the citizen told so).
    chat_conversation_timeout_minutes: float = Field(default=60.0, gt=0)
    # Messages one chat may send per minute; past it the sender is told to wait, once, and the
    # rest of the minute's messages are dropped before they reach Temporal.
    chat_messages_per_minute: int = Field(default=20, ge=1)
    # Sending into chats (conversation replies and case news): its own task queue
    # (<TEMPORAL_TASK_QUEUE>-chat), concurrency and rate (WhatsApp allows 80 messages/s per number).
    notification_chat_concurrency: int = Field(default=4, ge=1)
    notification_chat_per_second: float = Field(default=20.0, gt=0)
    chat_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    chat_read_timeout_seconds: float = Field(default=15.0, gt=0)
    # --- end of chat doors -----------------------------------------------------------------------

    # --- Personal data (issue 26, docs/privacy.md) ------------------------------------------------
    # A closed case's personal data is erased this many days after its last event (0: kept until
    # the reporter asks); a Temporal Schedule (activities/privacy.py) sweeps once a day.
    personal_data_retention_days: int = Field(default=730, ge=0)
    retention_sweep_interval_hours: float = Field(default=24.0, gt=0)

    # --- Attachments (issue 8; api/storage.py, api/attachments.py) -------------------------------
    attachment_storage: Literal["local", "s3"] = "local"
    attachment_dir: str = "./var/attachments"  # ATTACHMENT_STORAGE=local
    # ATTACHMENT_STORAGE=s3: any S3-compatible store; unset credentials come from boto3's chain.
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    # Bodies of the upload paths (api.main.UPLOAD_PATHS) may be this large: five 10 MB files and
    # 1 MB of multipart overhead. Each file's own limit is enforced where it is stored.
    max_upload_body_bytes: int = 5 * 10 * 1024 * 1024 + 1024 * 1024
    # Cleaning (api/cleaning.py): each file is decoded in a child process of its own, refused from
    # its header over the pixel limit, killed past the time limit, its address space capped; at
    # most `concurrency` at once (an upload waits up to the timeout for one, then 503).
    attachment_max_image_pixels: int = Field(default=40_000_000, ge=1)
    attachment_max_pdf_pages: int = Field(default=100, ge=1)
    attachment_cleaning_timeout_seconds: float = Field(default=30.0, gt=0)
    attachment_cleaning_memory_bytes: int = Field(default=1024 * 1024 * 1024, ge=128 * 1024 * 1024)
    attachment_cleaning_concurrency: int = Field(default=2, ge=1)
    # Quotas (api/attachments.py): bytes kept per case (413), per submitter (the token of staff,
    # the address of anyone else) per UTC day (429), and what must stay free on the local disk or
    # what all attachments together may take (507). 0 turns the total off.
    attachment_case_max_bytes: int = Field(default=30 * 1024 * 1024, ge=1)
    attachment_submitter_daily_max_bytes: int = Field(default=200 * 1024 * 1024, ge=1)
    attachment_min_free_disk_bytes: int = Field(default=1024 * 1024 * 1024, ge=0)
    attachment_total_max_bytes: int = Field(default=50 * 1024 * 1024 * 1024, ge=0)
    # Files per minute per submitter, on top of SUBMISSION_RATE_LIMIT_PER_MINUTE; 0 turns it off.
    attachment_files_per_minute: int = Field(default=20, ge=0)
    # --- end of attachments ----------------------------------------------------------------------

    # --- The map of /publik and the report form's pin picker (issue 19) ----------------------------
    # Tiles: an https URL template with {z}, {x} and {y} ({s} for subdomains allowed); http only to
    # a loopback host (a local tile server, the tests' stub). Its origin is added to the portal's
    # Content-Security-Policy img-src. The attribution is plain text shown on the map.
    map_tile_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    map_attribution: str = "© OpenStreetMap contributors"
    # Where `npm ci` put the browser libraries (leaflet, leaflet.markercluster); missing, the
    # portal works without its maps (the lists and the region picker remain).
    portal_assets_dir: str = str(Path(__file__).resolve().parent / "node_modules")

    def policy(self) -> Policy:
        """The policy in force for new cases."""
        return policy_in_force(self.policy_version, self.policy_working_day_seconds)

    @property
    def codec_cors_origin_list(self) -> list[str]:
        return [origin.strip() for origin in self.codec_cors_origins.split(",") if origin.strip()]

    @property
    def base_url(self) -> str:
        """Where links point (no trailing slash): PUBLIC_BASE_URL, or in development on loopback
        this machine's own address. Never a request's Host header."""
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        return f"http://127.0.0.1:{self.bind_port}"

    @property
    def relaxed_secrets(self) -> bool:
        """Development bound to loopback: nobody else can reach it, so weak secrets are allowed."""
        return self.environment == "development" and is_loopback(self.bind_host)

    @cached_property
    def secret_keyring(self) -> SecretKeyring:
        return SecretKeyring(self.secret_key_id, {**self.secret_keys_retired, self.secret_key_id: self.secret_key})

    @cached_property
    def payload_keys(self) -> PayloadKeys:
        return PayloadKeys.parse(self.temporal_encryption_keys)

    @model_validator(mode="after")
    def _refuse_unsafe_settings(self) -> "Settings":
        policy = self.policy()  # an unknown version, or a day length for a real policy, fails here
        if self.environment == "production":
            if policy.is_drill:
                raise ValueError(f"POLICY_VERSION {policy.version} is a drill policy: not in production")
            if not self.sp4n_admin_token:
                raise ValueError(f"SP4N_ADMIN_TOKEN must be set in production: {HOW_TO_MAKE_A_SECRET}")
        if not self.relaxed_secrets:
            self._refuse_weak_secrets()
            if not self.public_base_url:  # else links would come from a Host header someone sends
                raise ValueError("PUBLIC_BASE_URL must be set (where people reach the portal, e.g. "
                                 "https://lapor.example.go.id): links in pages and mails are built from it")
        if self.public_base_url:
            check_public_base_url(self.public_base_url)
        self.payload_keys  # noqa: B018 (parsed now: a bad key stops the start, not the first case)
        if any(not 1 <= code <= 999 for code in self.phone_country_codes):
            raise ValueError("PHONE_COUNTRY_CODES are country calling codes (1-999), e.g. [62]")
        check_tile_url(self.map_tile_url)
        if self.attachment_storage == "s3" and not self.s3_bucket:
            raise ValueError("S3_BUCKET must be set when ATTACHMENT_STORAGE=s3")
        self._refuse_unsafe_chat_doors()
        return self

    def _refuse_unsafe_chat_doors(self) -> None:
        """A chat door is on only with what authenticates its webhook and its replies: a WhatsApp
        door without the app secret would take anybody's POST for Meta's."""
        if self.whatsapp_enabled:
            missing = [name for name, value in (
                ("WHATSAPP_APP_SECRET", self.whatsapp_app_secret), ("WHATSAPP_VERIFY_TOKEN", self.whatsapp_verify_token),
                ("WHATSAPP_ACCESS_TOKEN", self.whatsapp_access_token),
                ("WHATSAPP_PHONE_NUMBER_ID", self.whatsapp_phone_number_id)) if not value]
            if missing:
                raise ValueError(f"WHATSAPP_ENABLED needs {', '.join(missing)}")
            check_service_url("WHATSAPP_API_BASE_URL", self.whatsapp_api_base_url)
        if self.telegram_enabled:
            missing = [name for name, value in (
                ("TELEGRAM_BOT_TOKEN", self.telegram_bot_token),
                ("TELEGRAM_WEBHOOK_SECRET", self.telegram_webhook_secret)) if not value]
            if missing:
                raise ValueError(f"TELEGRAM_ENABLED needs {', '.join(missing)}")
            check_service_url("TELEGRAM_API_BASE_URL", self.telegram_api_base_url)

    @property
    def chat_enabled(self) -> bool:
        return self.whatsapp_enabled or self.telegram_enabled

    def _refuse_weak_secrets(self) -> None:
        where = (
            f"ENVIRONMENT={self.environment!r}" if self.environment != "development"
            else f"development mode bound to {self.bind_host!r}, which is not loopback"
        )
        if self.secret_key == SHIPPED_SECRET_KEY:
            raise ValueError(f"SECRET_KEY is the shipped default ({where}): {HOW_TO_MAKE_A_SECRET}")
        if not self.metrics_token:  # else /metrics is open: its gauges count confidential cases
            raise ValueError(f"METRICS_TOKEN must be set ({where}); Prometheus sends it as a bearer "
                             f"token: {HOW_TO_MAKE_A_SECRET}")
        secrets = {"SECRET_KEY": self.secret_key, "SP4N_ADMIN_TOKEN": self.sp4n_admin_token,
                   "SMS_GATEWAY_INBOUND_TOKEN": self.sms_gateway_inbound_token,
                   "METRICS_TOKEN": self.metrics_token,
                   "WHATSAPP_VERIFY_TOKEN": self.whatsapp_verify_token,
                   "TELEGRAM_WEBHOOK_SECRET": self.telegram_webhook_secret,
                   **{f"SECRET_KEYS_RETIRED[{key_id}]": old for key_id, old in self.secret_keys_retired.items()}}
        for name, value in secrets.items():
            if value is not None and len(value) < MIN_SECRET_CHARS:
                raise ValueError(
                    f"{name} has {len(value)} characters, fewer than {MIN_SECRET_CHARS} ({where}): "
                    f"{HOW_TO_MAKE_A_SECRET}"
                )
        if self.sp4n_admin_password:  # empty (compose without one) = no first administrator
            weakness = admin_password_weakness(self.sp4n_admin_password, self.sp4n_admin_email)
            if weakness:
                raise ValueError(f"SP4N_ADMIN_PASSWORD is too weak: {weakness} ({where}); {HOW_TO_MAKE_A_SECRET}")


def admin_password_weakness(password: str, email: str | None = None) -> str | None:
    """Why a password is too weak for an administrator, or None (zxcvbn's estimate, score 0-4)."""
    if len(password) < MIN_ADMIN_PASSWORD_CHARS:
        return f"{len(password)} characters, fewer than {MIN_ADMIN_PASSWORD_CHARS}"
    from zxcvbn import zxcvbn

    inputs = [email, *email.replace("@", " ").replace(".", " ").split()] if email else []
    if email and email.strip().lower() in password.lower():
        return "it contains the administrator's e-mail address"
    estimate = zxcvbn(password, user_inputs=inputs)
    if estimate["score"] < MIN_ADMIN_PASSWORD_SCORE:
        hint = estimate["feedback"].get("warning") or "easy to guess"
        return f"strength {estimate['score']} of 4, at least {MIN_ADMIN_PASSWORD_SCORE} needed ({hint})"
    return None


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


def check_public_base_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment \
            or "@" in parts.netloc:
        raise ValueError(f"PUBLIC_BASE_URL must be an http(s) address such as https://lapor.example.go.id, not {url!r}")


def check_tile_url(url: str) -> None:
    """Refuse a tile URL a browser should not be sent to: not https (except to loopback), or not a
    z/x/y template."""
    parts = urlsplit(url.replace("{s}", "a").replace("{z}", "0").replace("{x}", "0").replace("{y}", "0"))
    if not all(f"{{{key}}}" in url for key in "zxy"):
        raise ValueError("MAP_TILE_URL must be a template with {z}, {x} and {y}")
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return
    raise ValueError("MAP_TILE_URL must be https (http only to a loopback tile server)")


def check_service_url(name: str, url: str) -> None:
    """An API our replies go through: https, or http to loopback only (a stub in tests)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return
    raise ValueError(f"{name} must be https (http only to loopback)")


def tile_origin(url: str) -> str:
    """The scheme and host of the tile URL, for the Content-Security-Policy ({s} subdomains: *)."""
    parts = urlsplit(url.replace("{s}", "a"))
    host = parts.netloc.replace("a.", "*.", 1) if "{s}." in url else parts.netloc
    return f"{parts.scheme}://{host}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
