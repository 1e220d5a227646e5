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
- `Trainer` runs `train_version` every `routing_retrain_seconds` in a daemon thread of the worker,
  never on a request's path; every process (workers, API) loads the active version with its
  directory snapshot (activities/routing.py, RoutingActivities), so the fleet ranks alike.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import structlog
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from activities.routing_memory import DecisionMemory, LabelledExample
from db.models import Agency, AgencyUnit, RoutingExample, RoutingModelVersion, utc_now
from domain.enums import Action, Role
from domain.models import CaseRecord
from domain.text import forbidden_character

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
    """The stored examples in id order (up to `upto`), and the last id. One text labelled for one
    body counts once, as its latest label says: repeating a decision (or importing one text again
    and again) adds no weight to the neighbours' vote."""
    statement = select(RoutingExample).order_by(RoutingExample.id)
    if upto is not None:
        statement = statement.where(RoutingExample.id <= upto)
    examples: dict[tuple[str, str], LabelledExample] = {}
    last = 0
    for row in session.scalars(statement):
        key = (_same_text(row.text), row.agency_id)
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


class Trainer:
    """Trains a new version every `interval` seconds while there are new examples (daemon thread)."""

    def __init__(self, sessions: sessionmaker[Session], interval: float) -> None:
        self._sessions = sessions
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="routing-trainer", daemon=True)

    def start(self) -> Trainer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                train_version(self._sessions)
            except Exception:  # noqa: BLE001 - the next round tries again; routing keeps its version
                log.exception("routing model training failed")


# --- importing a body's past complaints --------------------------------------------------------

HISTORY_FIELDS = ("text", "region_code", "agency_id", "unit_id", "date")
MAX_HISTORY_ROWS = 50_000
_REGION = re.compile(r"^\d{2}(\.\d{2})*$")


@dataclass
class HistoryCheck:
    """What is wrong with an import (nothing is written while anything is)."""

    errors: list[str]
    unknown_units: list[str]
    unknown_agencies: list[str]

    @property
    def ok(self) -> bool:
        return not (self.errors or self.unknown_units or self.unknown_agencies)

    def describe(self) -> str:
        parts = []
        if self.unknown_agencies:
            parts.append("instansi tidak dikenal: " + ", ".join(self.unknown_agencies[:50]))
        if self.unknown_units:
            parts.append("unit tidak dikenal: " + ", ".join(self.unknown_units[:50]))
        parts += self.errors[:50]
        return "; ".join(parts)


def history_from_csv(content: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(content))
    missing = {"text", "agency_id"} - set(reader.fieldnames or ())
    if missing:
        raise ValueError(f"kolom wajib tidak ada: {', '.join(sorted(missing))} (kolom: {', '.join(HISTORY_FIELDS)})")
    return [dict(row) for row in reader]


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


def check_history(session: Session, rows: Sequence[dict[str, Any]]) -> tuple[HistoryCheck, list[dict[str, Any]]]:
    """Validate every row against the directory; the example rows when all are valid."""
    check = HistoryCheck([], [], [])
    if not rows:
        check.errors.append("tidak ada baris")
    if len(rows) > MAX_HISTORY_ROWS:
        check.errors.append(f"paling banyak {MAX_HISTORY_ROWS} baris sekali impor")
        return check, []
    agencies = {row.id for row in session.execute(select(Agency.id).where(Agency.active))}
    units = {row.id: row.agency_id for row in session.execute(
        select(AgencyUnit.id, AgencyUnit.agency_id).where(AgencyUnit.active))}
    out = []
    for n, row in enumerate(rows, start=1):
        text = str(row.get("text") or "").strip()
        agency_id = str(row.get("agency_id") or "").strip()
        unit = str(row.get("unit_id") or "").strip() or None
        region = str(row.get("region_code") or "").strip() or None
        if not text:
            check.errors.append(f"baris {n}: teks kosong")
        elif (bad := forbidden_character(text)) is not None:
            check.errors.append(f"baris {n}: karakter kendali {bad} tidak diizinkan")
        if agency_id not in agencies:
            if agency_id not in check.unknown_agencies:
                check.unknown_agencies.append(agency_id or f"(kosong, baris {n})")
            continue
        if unit is not None and "/" not in unit:
            unit = f"{agency_id}/{unit}"  # a slug of the row's body
        if unit is not None and units.get(unit) != agency_id:
            if unit not in check.unknown_units:
                check.unknown_units.append(unit)
            continue
        if region is not None and not _REGION.match(region):
            check.errors.append(f"baris {n}: kode wilayah {region!r} tidak sah")
        try:
            decided = _parse_date(row.get("date")) or utc_now()
        except ValueError:
            check.errors.append(f"baris {n}: tanggal {row.get('date')!r} bukan tanggal ISO 8601")
            continue
        out.append({"source": "import", "tracking_id": None, "event_seq": None, "text": text[:20_000],
                    "region_code": region, "agency_id": agency_id, "unit_id": unit, "positive": True,
                    "decided_at": decided, "created_at": utc_now()})
    return check, out if check.ok else []


def import_history(session: Session, rows: Iterable[dict[str, Any]]) -> tuple[HistoryCheck, int]:
    """All rows or none: (the check, how many examples were added). The caller commits."""
    check, examples = check_history(session, list(rows))
    if check.ok:
        session.execute(RoutingExample.__table__.insert(), examples)
    return check, len(examples)


# --- command line: onboarding a body from its history ------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """python -m activities.routing_learning import FILE.csv|FILE.json [--train] | train | versions"""
    import argparse
    import json
    from pathlib import Path

    from config import get_settings
    from db.session import make_engine, make_sessionmaker

    parser = argparse.ArgumentParser(prog="python -m activities.routing_learning", description=main.__doc__)
    parser.add_argument("--database-url", help="the read model (default: DATABASE_URL of the settings)")
    commands = parser.add_subparsers(dest="command", required=True)
    importing = commands.add_parser("import", help="import past complaints (columns: " + ", ".join(HISTORY_FIELDS) + ")")
    importing.add_argument("file", type=Path)
    importing.add_argument("--train", action="store_true", help="train a new version right after")
    commands.add_parser("train", help="train a new version now if there are new examples")
    args = parser.parse_args(argv)
    sessions = make_sessionmaker(make_engine(args.database_url or get_settings().database_url))
    if args.command == "import":
        content = args.file.read_text(encoding="utf-8-sig")
        if args.file.suffix.lower() == ".json":
            data = json.loads(content)
            rows = data["items"] if isinstance(data, dict) else data
        else:
            rows = history_from_csv(content)
        with sessions.begin() as session:
            check, added = import_history(session, rows)
        if not check.ok:
            print(f"nothing imported: {check.describe()}")
            return 1
        print(f"imported {added} examples")
    if args.command == "train" or getattr(args, "train", False):
        row = train_version(sessions, note="pelatihan dari baris perintah")
        print(f"version {row.version}: {row.n_examples} examples, active={row.active}" if row else "nothing new to learn")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
