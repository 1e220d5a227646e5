"""`python -m ops <command>`: the operator's tasks, with the settings of the environment
(DATABASE_URL, TEMPORAL_ADDRESS, ...: config.Settings).

    python -m ops migrate                  bring the read model's schema up to date (Alembic)
    python -m ops seed                     load the shipped directory (bodies, regions, aliases)
    python -m ops reconcile [--dry-run]    open cases' workflows against the read model; repairs
    python -m ops export-cases [-o FILE] [--from DATE] [--to DATE]
                                           open-data CSV (no personal data, no confidential case)
    python -m ops import-routing-history FILE.csv|FILE.json [--train]
                                           a body's past complaints as routing examples
                                           (activities/routing_learning.py; --train: a new model version)
    python -m ops import-units AGENCY_ID FILE.csv|FILE.json
                                           a body's units (slug, name, kind), all rows or none
                                           (both imports: --delimiter ';'|','|tab, --strip-control-characters;
                                           every error with its row, exit status 2)
    python -m ops train-routing            train a new routing model version if there are new examples
    python -m ops erasure-report --month YYYY-MM
                                           the month's personal-data erasures, by who asked (docs/privacy.md)
    python -m ops breach-report --from DATETIME --to DATETIME --stores read_model,attachments,temporal,keys
                                           who to notify of a personal-data breach, and the notice's
                                           draft in Indonesian (UU 27/2022 Art. 46; docs/privacy.md)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from datetime import date, datetime, time, timezone

from pydantic import ValidationError

from config import Settings, get_settings


def _day(text: str) -> datetime:
    return datetime.combine(date.fromisoformat(text), time(), tzinfo=timezone.utc)


def _month(text: str) -> str:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", text):
        raise argparse.ArgumentTypeError("a month is YYYY-MM, e.g. 2026-12")
    return text


def migrate(args: argparse.Namespace) -> int:
    from db.migrate import current_revision, upgrade_to_head

    url = get_settings().database_url
    upgrade_to_head(url)
    print(f"schema at {current_revision(url)}")
    return 0


def seed(args: argparse.Namespace) -> int:
    from db.directory import directory_version, load_directory
    from db.session import make_engine, make_sessionmaker

    with make_sessionmaker(make_engine(get_settings().database_url)).begin() as session:
        changed = load_directory(session)
    print(f"directory {directory_version()}: {'loaded' if changed else 'already up to date'}")
    return 0


def reconcile_command(args: argparse.Namespace) -> int:
    from db.session import make_engine, make_sessionmaker
    from api.reconcile import reconcile
    from db.privacy import CaseKeyring
    from workflows.client import connect

    settings = get_settings()

    async def run():
        client = await connect(settings.temporal_address, settings.temporal_namespace)
        sessions = make_sessionmaker(make_engine(settings.database_url))
        return await reconcile(client, sessions, repair=not args.dry_run, concurrency=args.concurrency,
                               keyring=CaseKeyring(settings.payload_keys))

    report = asyncio.run(run())
    print(json.dumps(report.model_dump(), indent=2, ensure_ascii=False))
    print(f"checked={report.checked} in_sync={report.in_sync} repaired={report.repaired} "
          f"differing={report.differing} missing_rows={report.missing_rows} unanswered={report.unanswered} "
          f"run_mismatches={report.run_mismatches} conflicts={report.conflicts}",
          file=sys.stderr)
    return 1 if report.differing or report.unanswered else 0


def export_cases(args: argparse.Namespace) -> int:
    from db.session import make_engine, make_sessionmaker
    from ops.open_data import write_open_data_csv

    sessions = make_sessionmaker(make_engine(get_settings().database_url))
    output = open(args.output, "w", newline="", encoding="utf-8") if args.output else sys.stdout
    try:
        with sessions() as session:
            count = write_open_data_csv(session, output, args.submitted_from, args.submitted_to)
    finally:
        if args.output:
            output.close()
    print(f"{count} cases written", file=sys.stderr)
    return 0


def _reading_options(args: argparse.Namespace) -> list[str]:
    return [*(["--delimiter", args.delimiter] if args.delimiter else []),
            *(["--strip-control-characters"] if args.strip_control_characters else [])]


def import_routing_history(args: argparse.Namespace) -> int:
    from activities import routing_learning

    return routing_learning.main(["import", str(args.file), *_reading_options(args), *(["--train"] if args.train else [])])


def import_units(args: argparse.Namespace) -> int:
    """A body's units from a `slug,name[,kind]` CSV (or JSON {"units": [...]}), all rows or none;
    exit status 2 with every error and its row when nothing was imported."""
    from pathlib import Path

    from api.auth import Caller
    from api.directory_admin import apply_unit_import, parse_unit_csv
    from api.problems import Problem
    from db.session import make_engine, make_sessionmaker
    from domain.enums import Role
    from domain.table_import import RowError, TableRefused, strip_control

    path = Path(args.file)
    try:
        content = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        print(TableRefused([RowError(None, f"{path}: {getattr(error, 'strerror', None) or error}")],
                           "Berkas tidak dapat dibaca").report(), file=sys.stderr)
        return 2
    delimiter = "\t" if args.delimiter == "tab" else args.delimiter
    try:
        if path.suffix.lower() == ".json":
            try:
                rows = [{k: strip_control(str(v))[0] if args.strip_control_characters else str(v) for k, v in row.items()}
                        for row in json.loads(content)["units"]]
            except (ValueError, KeyError, TypeError, AttributeError) as error:
                raise Problem(422, f'JSON tidak sah ({error}); bentuknya {{"units": [{{"slug": ..., "name": ..., "kind": ...}}]}}') from error
        else:
            rows = parse_unit_csv(content, delimiter=delimiter, strip_control_characters=args.strip_control_characters)
        sessions = make_sessionmaker(make_engine(get_settings().database_url))
        with sessions() as session:
            result = apply_unit_import(session, args.agency_id, Caller(role=Role.ADMIN, name="ops import-units"), rows)
    except Problem as problem:
        print(problem.detail, file=sys.stderr)
        return 2
    print(f"{args.agency_id}: {result.created} created, {result.renamed} renamed, {result.unchanged} unchanged")
    return 0


def train_routing(args: argparse.Namespace) -> int:
    from activities import routing_learning

    return routing_learning.main(["train"])


def _add_reading_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--delimiter", choices=[",", ";", "tab", "|"],
                         help="CSV column delimiter (default: detected from the header line)")
    command.add_argument("--strip-control-characters", action="store_true",
                         help="remove control characters instead of refusing the rows that carry them")


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m ops", description=__doc__.split("\n\n")[0],
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = root.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="bring the read model's schema up to date").set_defaults(run=migrate)
    commands.add_parser("seed", help="load the shipped directory of bodies").set_defaults(run=seed)
    command = commands.add_parser("reconcile", help="compare open cases' workflows with the read model; repair")
    command.add_argument("--dry-run", action="store_true", help="report differences, repair nothing (exit 1 if any)")
    command.add_argument("--concurrency", type=int, default=8, help="workflows queried at once")
    command.set_defaults(run=reconcile_command)
    command = commands.add_parser("export-cases", help="open-data CSV of the cases (no personal data)")
    command.add_argument("-o", "--output", help="file to write (default: standard output)")
    command.add_argument("--from", dest="submitted_from", type=_day, help="submitted on or after (YYYY-MM-DD, UTC)")
    command.add_argument("--to", dest="submitted_to", type=_day, help="submitted before (YYYY-MM-DD, UTC)")
    command.set_defaults(run=export_cases)
    command = commands.add_parser("import-routing-history",
                                  help="import a body's past complaints as routing examples (all rows or none)")
    command.add_argument("file", help="CSV or JSON: text, agency_id, and optionally unit_id, region_code, date")
    command.add_argument("--train", action="store_true", help="train a new routing model version right after")
    _add_reading_options(command)
    command.set_defaults(run=import_routing_history)
    command = commands.add_parser("import-units", help="import a body's units (all rows or none)")
    command.add_argument("agency_id", help="the body whose units these are (its directory id)")
    command.add_argument("file", help="CSV (slug, name, optionally kind) or JSON {\"units\": [...]}")
    _add_reading_options(command)
    command.set_defaults(run=import_units)
    commands.add_parser("train-routing", help="train a new routing model version now (if there are new examples)"
                        ).set_defaults(run=train_routing)
    command = commands.add_parser("erasure-report", help="the month's personal-data erasures (retention included)")
    command.add_argument("--month", required=True, type=_month, help="YYYY-MM (UTC)")
    command.set_defaults(run=erasure_report)
    command = commands.add_parser("breach-report", help="who to notify of a personal-data breach, and the draft notice")
    command.add_argument("--from", dest="start", required=True, help="start of the window (ISO 8601 with offset)")
    command.add_argument("--to", dest="end", required=True, help="end of the window (ISO 8601 with offset)")
    command.add_argument("--stores", required=True, help="read_model,attachments,temporal,keys (comma-separated)")
    command.add_argument("--contact", default="Pejabat Pelindungan Data Pribadi (PPDP) penyelenggara layanan",
                         help="who answers questions, for the notice")
    command.add_argument("-o", "--output", help="write the JSON report to this file")
    command.set_defaults(run=breach_report)
    return root


def erasure_report(args: argparse.Namespace) -> int:
    from db.privacy import erasures_in_month
    from db.session import make_engine, make_sessionmaker

    with make_sessionmaker(make_engine(get_settings().database_url))() as session:
        print(json.dumps(erasures_in_month(session, args.month), indent=2, ensure_ascii=False))
    return 0


def breach_report(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from db.privacy import breach_affected
    from db.session import make_engine, make_sessionmaker
    from domain.privacy import BreachStore, breach_notice

    try:
        stores = [BreachStore(name.strip()) for name in args.stores.split(",") if name.strip()]
        start, end = datetime.fromisoformat(args.start), datetime.fromisoformat(args.end)
    except ValueError as error:
        print(f"breach-report: {error} (stores: {', '.join(s.value for s in BreachStore)}; "
              "times: ISO 8601 with an offset, e.g. 2026-12-01T00:00:00+07:00)", file=sys.stderr)
        return 2
    if start.tzinfo is None or end.tzinfo is None or not stores:
        print("breach-report: --from and --to need an offset; --stores at least one", file=sys.stderr)
        return 2
    with make_sessionmaker(make_engine(get_settings().database_url))() as session:
        affected = breach_affected(session, start, end, [store.value for store in stores])
    reachable = [a for a in affected if a.contacts]
    kinds = ["nama", "alamat e-mail", "nomor telepon", "alamat dan titik lokasi"] \
        if {BreachStore.READ_MODEL, BreachStore.KEYS} & set(stores) or any("temporal" in a.stores for a in affected) \
        else []
    if BreachStore.ATTACHMENTS in stores:
        kinds.append("berkas lampiran (foto, dokumen)")
    notice = breach_notice(start=start.isoformat(), end=end.isoformat(), stores=stores, data_kinds=kinds,
                           reporters=len({a.tracking_id for a in affected if a.kind == "reporter"}),
                           discovered=datetime.now(timezone.utc).astimezone().isoformat(timespec="minutes"),
                           contact=args.contact)
    report = {
        "window": {"from": start.isoformat(), "to": end.isoformat()},
        "stores": [store.value for store in stores],
        "affected": [asdict(a) for a in affected],
        "contacts_to_notify": sorted({c for a in reachable for c in a.contacts}),
        "without_contact": len(affected) - len(reachable),
        "notice_id": notice,
    }
    output = json.dumps(report, indent=2, ensure_ascii=False)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as file:
            file.write(output + "\n")
        print(f"{len(affected)} affected, {len(report['contacts_to_notify'])} contacts to notify: {args.output}",
              file=sys.stderr)
    else:
        print(output)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except ValidationError as error:
        if error.title != Settings.__name__:
            raise
        # The environment's settings, not the command: what to set, without a traceback.
        print("Pengaturan lingkungan tidak lengkap (lihat docs/configuration.md):", file=sys.stderr)
        for problem in error.errors():
            print(f"  {problem['msg'].removeprefix('Value error, ')}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
