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
    python -m ops train-routing            train a new routing model version if there are new examples
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import date, datetime, time, timezone

from config import get_settings


def _day(text: str) -> datetime:
    return datetime.combine(date.fromisoformat(text), time(), tzinfo=timezone.utc)


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
    from workflows.client import connect

    settings = get_settings()

    async def run():
        client = await connect(settings.temporal_address, settings.temporal_namespace)
        sessions = make_sessionmaker(make_engine(settings.database_url))
        return await reconcile(client, sessions, repair=not args.dry_run, concurrency=args.concurrency)

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


def import_routing_history(args: argparse.Namespace) -> int:
    from activities import routing_learning

    return routing_learning.main(["import", str(args.file), *(["--train"] if args.train else [])])


def train_routing(args: argparse.Namespace) -> int:
    from activities import routing_learning

    return routing_learning.main(["train"])


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
    command.set_defaults(run=import_routing_history)
    commands.add_parser("train-routing", help="train a new routing model version now (if there are new examples)"
                        ).set_defaults(run=train_routing)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    raise SystemExit(main())
