"""Learning from routing decisions: labelled examples in the read model, versions of the learned
memory as artefacts in the same database, training in the background, rollback.

- Every accept (this body), dispose (this body and unit) and "not our authority" (not this body)
  is projected as a RoutingExample by activities/records.py (`store_examples`: one per case and
  decision kind, the latest replacing the earlier), in the projection's transaction, so
  the workflow is untouched; an administrator's import of past complaints adds examples too
  (`import_history`). Automatic forwarding (the system's own accept) is not a decision: skipped.
- `train_version` builds a DecisionMemory (activities/routing_memory.py) over every example, in id
  order, stores it as the next RoutingModelVersion and activates it, unless an administrator
  pinned an older one (a rollback). Two processes training at once store one version: the second
  insert hits the unique `examples_upto` and is dropped.
- `train_routing_model` (TrainingActivities) runs `train_version` as Temporal's work: an import
  starts RoutingTrainingWorkflow and waits for the version; a Temporal Schedule starts it every
  `routing_retrain_seconds` (workflows/routing_training.py). Every process (workers, API) checks
  the active version every few seconds and loads it with its directory snapshot
  (activities/routing.py, RoutingActivities), so the fleet ranks alike.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import structlog
from temporalio import activity
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from activities.routing_memory import DecisionMemory, LabelledExample
from db.models import Agency, AgencyUnit, RoutingExample, RoutingModelVersion, utc_now
from domain.enums import Action, Role
from domain.models import CaseRecord
from domain.table_import import (
    STRIP_OPTION,
    RowError,
    Table,
    TableRefused,
    did_you_mean,
    read_table,
    slug_problem,
    strip_control,
)
from domain.text import forbidden_character
from workflows.routing_training import TrainedVersion

log = structlog.get_logger(__name__)

LEARNED_ACTIONS = {Action.ACCEPT: "accept", Action.DISPOSE: "dispose", Action.REROUTE: "reroute"}


def example_rows(record: CaseRecord) -> list[dict[str, Any]]:
    """The labelled examples of one projection's new events (people's decisions only)."""
    details = record.details
    text = f"{details.title}\n{details.description}"
    rows = []
    for event in record.new_events:
        source = LEARNED_ACTIONS.get(event.action)
        if source is None or not event.agency_id or event.actor.role == Role.SYSTEM:
            continue
        if event.action == Action.DISPOSE and not event.unit_id:
            continue
        rows.append(
            {
                "source": source,
                "tracking_id": record.tracking_id,
                "event_seq": event.seq,
                "text": text,
                "region_code": details.region_code,
                "agency_id": event.agency_id,
                "unit_id": event.unit_id if event.action == Action.DISPOSE else None,
                "positive": event.action != Action.REROUTE,
                "decided_at": event.at,
                "created_at": utc_now(),
            }
        )
    return rows


def store_examples(session: Session, rows: list[dict[str, Any]]) -> None:
    """Store a projection's examples: one per (case, decision kind), the latest decision replacing
    the earlier one (disposing is repeatable while a case awaits its body, and re-disposing must not
    stack votes); a retried projection, or an older decision than the stored one, changes nothing."""
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        key = (row["tracking_id"], row["source"])
        if key not in latest or row["event_seq"] > latest[key]["event_seq"]:
            latest[key] = row
    for (tracking_id, source), row in latest.items():
        stored = session.execute(select(RoutingExample.id, RoutingExample.event_seq).where(
            RoutingExample.tracking_id == tracking_id, RoutingExample.source == source)).all()
        if any(s.event_seq is not None and s.event_seq >= row["event_seq"] for s in stored):
            continue
        if stored:
            session.execute(delete(RoutingExample).where(RoutingExample.id.in_([s.id for s in stored])))
        session.execute(RoutingExample.__table__.insert(), [row])


def _same_text(text: str) -> str:
    return " ".join(text.split()).casefold()


def labelled_examples(session: Session, upto: int | None = None) -> tuple[list[LabelledExample], int]:
    """The stored examples in id order (up to `upto`), and the last id. A case's decisions count
    once per body, as the latest says (a case's text decided again adds no weight: store_examples
    keeps one per case and decision kind, and a case re-filed with the same text counts once);
    every imported row is an example in its own right, so one text a city sent to two units keeps
    both labels (issue 22)."""
    statement = select(RoutingExample).order_by(RoutingExample.id)
    if upto is not None:
        statement = statement.where(RoutingExample.id <= upto)
    examples: dict[tuple, LabelledExample] = {}
    last = 0
    for row in session.scalars(statement):
        key = ("import", row.id) if row.source == "import" else (_same_text(row.text), row.agency_id)
        examples.pop(key, None)  # the latest label, in the place of the latest decision
        examples[key] = LabelledExample(row.text, row.agency_id, row.unit_id, row.positive, row.region_code)
        last = row.id
    return list(examples.values()), last


def _digest(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()


def train_version(sessions: sessionmaker[Session], note: str = "pelatihan berkala") -> RoutingModelVersion | None:
    """Store (and activate, unless pinned) a new version when there are examples newer than the
    latest version; None when there is nothing new or another process stored it first."""
    with sessions() as session:
        latest = session.scalar(select(func.max(RoutingModelVersion.examples_upto))) or 0
        newest = session.scalar(select(func.max(RoutingExample.id))) or 0
        if newest <= latest:
            return None
        examples, upto = labelled_examples(session, newest)
    memory = DecisionMemory(examples)  # the slow part, outside any transaction
    blob = memory.to_bytes()
    try:
        with sessions.begin() as session:
            pinned = session.scalar(select(RoutingModelVersion.version).where(
                RoutingModelVersion.active, RoutingModelVersion.pinned))
            row = RoutingModelVersion(examples_upto=upto, n_examples=len(examples), artefact=blob,
                                      sha256=_digest(blob), active=pinned is None, pinned=False, note=note)
            if pinned is None:
                session.execute(update(RoutingModelVersion).values(active=False))
            session.add(row)
            session.flush()
            session.expunge(row)
    except IntegrityError:
        return None  # another process stored the same examples first
    log.info("routing model trained", version=row.version, examples=len(examples), active=row.active)
    return row


def activate_version(session: Session, version: int) -> RoutingModelVersion | None:
    """An administrator's choice: that version ranks from now on. Pinned (newer versions are still
    trained, not activated) unless it is the newest. The caller commits."""
    row = session.get(RoutingModelVersion, version)
    if row is None:
        return None
    newest = session.scalar(select(func.max(RoutingModelVersion.version)))
    session.execute(update(RoutingModelVersion).values(active=False, pinned=False))
    row.active, row.pinned = True, row.version != newest
    return row


def active_version(session: Session) -> tuple[int, str] | None:
    row = session.execute(
        select(RoutingModelVersion.version, RoutingModelVersion.sha256).where(RoutingModelVersion.active)
    ).first()
    return (row.version, row.sha256) if row else None


def load_memory(session: Session, version: int) -> DecisionMemory:
    row = session.get(RoutingModelVersion, version)
    if row is None:
        raise LookupError(f"routing model version {version} is gone")
    if _digest(row.artefact) != row.sha256:
        raise ValueError(f"routing model version {version}: artefact does not match its digest")
    return DecisionMemory.from_bytes(row.artefact, version=f"m{version}")


class TrainingActivities:
    """The training activity of RoutingTrainingWorkflow (workflows/routing_training.py): started by
    an import, and by its Temporal Schedule every ROUTING_RETRAIN_SECONDS."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    @activity.defn(name="train_routing_model")
    def train_routing_model(self) -> TrainedVersion:
        row = train_version(self._sessions)
        if row is None:
            return TrainedVersion()
        return TrainedVersion(version=row.version, active=row.active, n_examples=row.n_examples)


# --- importing a body's past complaints --------------------------------------------------------

HISTORY_FIELDS = ("text", "region_code", "agency_id", "unit_id", "date")
MAX_HISTORY_ROWS = 50_000
_REGION = re.compile(r"^\d{2}(\.\d{2})*$")
UNIT_SLUG_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"  # api/directory_admin.py UNIT_SLUG


@dataclass
class HistoryCheck:
    """What is wrong with an import (nothing is written while anything is): every problem with its
    row (`problems`), and the unknown bodies and units also listed once each."""

    errors: list[str]
    unknown_units: list[str]
    unknown_agencies: list[str]
    problems: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def refused(self) -> TableRefused:
        return TableRefused(self.problems)

    def describe(self) -> str:
        """The total, then every problem on a line of its own."""
        return self.refused().report()

    def problem(self, row: int | None, message: str, column: str | None = None) -> None:
        error = RowError(row, message, column)
        self.problems.append(error)
        if column not in ("agency_id", "unit_id"):
            self.errors.append(str(error))


def history_from_csv(content: str, *, delimiter: str | None = None, strip_control_characters: bool = False) -> Table:
    """The rows (with their line in the file) of a history CSV and its cell errors (reported with
    the others by `import_history`); TableRefused for a file that cannot be read."""
    return read_table(content, required=("text", "agency_id"), optional=HISTORY_FIELDS, delimiter=delimiter,
                      strip_control_characters=strip_control_characters, max_rows=MAX_HISTORY_ROWS)


def strip_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """JSON rows with the control characters of their texts removed (--strip-control-characters)."""
    return [{k: strip_control(v)[0] if isinstance(v, str) else v for k, v in row.items()} for row in rows]


def _parse_date(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip()
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def check_history(
    session: Session, rows: Sequence[dict[str, Any] | tuple[int, dict[str, Any]]] | Table
) -> tuple[HistoryCheck, list[dict[str, Any]]]:
    """Validate every row against the directory; the example rows when all are valid. A row is a
    dict (numbered from 1) or (its line in the file, dict); a Table brings its cell errors."""
    check = HistoryCheck([], [], [])
    unreadable: set[int | None] = set()
    if isinstance(rows, Table):
        for error in rows.errors:
            check.problem(error.row, error.message, error.column)
        unreadable = {error.row for error in rows.errors}
        rows = rows.rows
    if not rows:
        check.problem(None, "tidak ada baris")
    if len(rows) > MAX_HISTORY_ROWS:
        check.problem(None, f"paling banyak {MAX_HISTORY_ROWS} baris sekali impor")
        return check, []
    names = {row.id: row.name for row in session.execute(select(Agency.id, Agency.name).where(Agency.active))}
    units: dict[str, str] = {}
    unit_names: dict[str, dict[str, str]] = {}
    for row in session.execute(select(AgencyUnit.id, AgencyUnit.agency_id, AgencyUnit.name).where(AgencyUnit.active)):
        units[row.id] = row.agency_id
        unit_names.setdefault(row.agency_id, {})[row.id] = row.name
    out = []
    for index, item in enumerate(rows, start=1):
        n, row = item if isinstance(item, tuple) else (index, item)
        if n in unreadable:
            continue  # its cell error is reported already
        text = str(row.get("text") or "").strip()
        agency_id = str(row.get("agency_id") or "").strip()
        unit = str(row.get("unit_id") or "").strip() or None
        region = str(row.get("region_code") or "").strip() or None
        if not text:
            check.problem(n, "teks kosong", "text")
        elif (bad := forbidden_character(text)) is not None:
            check.problem(n, f"karakter kendali {bad}; pakai {STRIP_OPTION} untuk membuangnya", "text")
        if agency_id not in names:
            if agency_id and agency_id not in check.unknown_agencies:
                check.unknown_agencies.append(agency_id)
            check.problem(n, f"instansi {agency_id!r} tidak dikenal{did_you_mean(agency_id, names)}"
                          if agency_id else "agency_id kosong", "agency_id")
            continue
        if unit is not None and "/" not in unit:
            if (problem := slug_problem(unit, UNIT_SLUG_PATTERN)) is not None:
                check.problem(n, problem, "unit_id")
                continue
            unit = f"{agency_id}/{unit}"  # a slug of the row's body
        if unit is not None and units.get(unit) != agency_id:
            if unit not in check.unknown_units:
                check.unknown_units.append(unit)
            known = {unit_id.split("/", 1)[1]: name for unit_id, name in unit_names.get(agency_id, {}).items()}
            hint = did_you_mean(unit.split("/", 1)[1], known) or (
                f" (unit aktif: {', '.join(sorted(known)[:10])})" if known else " (instansi ini belum punya unit)")
            check.problem(n, f"unit {unit} tidak ada atau tidak aktif di {agency_id}{hint}", "unit_id")
            continue
        if region is not None and not _REGION.match(region):
            check.problem(n, f"kode wilayah {region!r} tidak sah (contoh: 62 atau 62.71)", "region_code")
        try:
            decided = _parse_date(row.get("date")) or utc_now()
        except ValueError:
            check.problem(n, f"tanggal {row.get('date')!r} bukan tanggal ISO 8601 (contoh: 2025-03-01)", "date")
            continue
        out.append({"source": "import", "tracking_id": None, "event_seq": None, "text": text[:20_000],
                    "region_code": region, "agency_id": agency_id, "unit_id": unit, "positive": True,
                    "decided_at": decided, "created_at": utc_now()})
    check.problems.sort(key=lambda e: e.row or 0)
    return check, out if check.ok else []


def import_history(session: Session, rows: Iterable[dict[str, Any]] | Table) -> tuple[HistoryCheck, int]:
    """All rows or none: (the check, how many examples were added). The caller commits."""
    check, examples = check_history(session, rows if isinstance(rows, Table) else list(rows))
    if check.ok:
        session.execute(RoutingExample.__table__.insert(), examples)
    return check, len(examples)


# --- command line: onboarding a body from its history ------------------------------------------


def read_history_file(path: Any, *, delimiter: str | None = None,
                      strip_control_characters: bool = False) -> Table | list[dict[str, Any]]:
    """The rows of a history file (CSV, or JSON: a list or {"items": [...]}); TableRefused for a
    file that cannot be read, with the reason."""
    import json
    from pathlib import Path

    path = Path(path)
    try:
        content = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise TableRefused([RowError(None, f"{path} tidak ditemukan")], "Berkas tidak dapat dibaca") from None
    except (OSError, UnicodeDecodeError) as error:
        raise TableRefused([RowError(None, f"{path}: {error}")], "Berkas tidak dapat dibaca") from None
    if path.suffix.lower() != ".json":
        return history_from_csv(content, delimiter=delimiter, strip_control_characters=strip_control_characters)
    try:
        data = json.loads(content)
        rows = data["items"] if isinstance(data, dict) else data
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise TypeError("bukan daftar objek")
    except (ValueError, KeyError, TypeError) as error:
        raise TableRefused([RowError(None, f'JSON tidak sah ({error}); bentuknya {{"items": [{{"text": ..., '
                                           f'"agency_id": ...}}]}}')], "Berkas tidak dapat dibaca") from None
    return strip_rows(rows) if strip_control_characters else rows


def main(argv: list[str] | None = None) -> int:
    """python -m activities.routing_learning import FILE.csv|FILE.json [--train] | train

    Exit status 2 when nothing was imported, with every error and its row on standard error."""
    import argparse
    import sys

    from config import get_settings
    from db.session import make_engine, make_sessionmaker

    parser = argparse.ArgumentParser(prog="python -m activities.routing_learning", description=main.__doc__)
    parser.add_argument("--database-url", help="the read model (default: DATABASE_URL of the settings)")
    commands = parser.add_subparsers(dest="command", required=True)
    importing = commands.add_parser("import", help="import past complaints (columns: " + ", ".join(HISTORY_FIELDS) + ")")
    importing.add_argument("file")
    add_reading_options(importing)
    importing.add_argument("--train", action="store_true",
                           help="train here, in this process (default: the worker trains through Temporal, "
                                "or this process when Temporal does not answer)")
    commands.add_parser("train", help="train a new version now if there are new examples")
    args = parser.parse_args(argv)
    sessions = make_sessionmaker(make_engine(args.database_url or get_settings().database_url))
    if args.command == "import":
        try:
            rows = read_history_file(args.file, delimiter=args.delimiter,
                                     strip_control_characters=args.strip_control_characters)
            with sessions.begin() as session:
                check, added = import_history(session, rows)
                if not check.ok:
                    raise check.refused()
        except TableRefused as refused:
            print(refused.report(), file=sys.stderr)
            return 2
        print(f"imported {added} examples")
        if not args.train:
            return 0 if learn_now_through_temporal(args.database_url) else _train_here(sessions)
    if args.command == "train" or getattr(args, "train", False):
        row = train_version(sessions, note="pelatihan dari baris perintah")
        print(f"version {row.version}: {row.n_examples} examples, active={row.active}" if row else "nothing new to learn")
    return 0


def learn_now_through_temporal(database_url: str | None) -> bool:
    """After an import: start RoutingTrainingWorkflow on the worker and wait for its version; False
    when Temporal or a worker does not answer (the caller trains here instead), or when the CLI
    points at another read model than the worker's (`--database-url`)."""
    import asyncio
    import uuid

    from config import get_settings
    from workflows.client import connect
    from workflows.routing_training import train_now

    async def run() -> TrainedVersion:
        client = await asyncio.wait_for(connect(settings.temporal_address, settings.temporal_namespace), 10)
        return await train_now(client, settings.temporal_task_queue, uuid.uuid4().hex, 300)

    try:
        settings = get_settings()
        if database_url and database_url != settings.database_url:
            return False
        trained = asyncio.run(run())
    except Exception as error:  # noqa: BLE001 - any failure to reach the worker: train here
        log.warning("training through Temporal failed; training here", error=str(error))
        return False
    print(f"version {trained.version}: {trained.n_examples} examples, active={trained.active} (trained by the worker)"
          if trained.version else "nothing new to learn")
    return True


def _train_here(sessions: sessionmaker[Session]) -> int:
    row = train_version(sessions, note="pelatihan dari baris perintah")
    print(f"version {row.version}: {row.n_examples} examples, active={row.active}" if row else "nothing new to learn")
    return 0


def add_reading_options(parser: Any) -> None:
    """--delimiter and --strip-control-characters, the same for every import command."""
    parser.add_argument("--delimiter", choices=[",", ";", "tab", "|"],
                        help="CSV column delimiter (default: detected from the header line)")
    parser.add_argument(STRIP_OPTION, action="store_true", dest="strip_control_characters",
                        help="remove control characters instead of refusing the rows that carry them")


if __name__ == "__main__":
    raise SystemExit(main())
