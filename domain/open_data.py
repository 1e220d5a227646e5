"""Open data (issue 28): what may be published about the cases, and how, so that no reporter can be
picked out of it. Pure rules; activities/open_data.py reads the read model and applies them.

Who is counted: cases that are not confidential and were verified, that is forwarded to a body at
least once (an `accept` in the timeline). A case never forwarded (awaiting verification, on hold,
rejected) appears nowhere, not even in a count.

**Small counts.** A count of 1 to 4 is published as `"<5"`. A count of 0 is published as 0: it
describes nobody, and a row that is absent says 0 anyway. So `"<5"` means "1 to 4", and the rules
below are checked against that knowledge.

**Counts within a total** (`suppress_group`). In the per-body table every count is part of the
row's `received` (the cases forwarded to the body that month): X of them forwarded in time, and so
`received - X` late. Subtracting would give that remainder back, so a part of 5 or more is
withheld (`"x"`) when its remainder is 1 to 4, and whenever the total is 5 to 8 (then `"x"` always
leaves two or more possibilities for the remainder, 0 among them). Every published combination is
shared by at least two rows whose every small count differs (tests/unit/test_open_data_rules.py
checks this exhaustively). Means and medians are computed over 5 cases or more, else left empty.

**Case rows** (`generalise_places`): the columns of the operators' export (`CASE_COLUMNS`), with
dates to the day (WIB), the category only as one of the catalogue's codes (never free text), and
never the title, description, address, pin or anything about the reporter. The tracking id is left
out too: it opens the case's public page, which names the exact region and would undo the rule that
follows. A row's region (regency or city) is kept when at least 5 published cases share its region,
category and month; else it becomes its province, when the rows so moved into that province,
category and month number 5 or more and come from two regions or more (and their sum does not pin
each region's "<5" to one value); else it is left blank under the same condition nationally; else
the row is left out. A regional body's id (and its unit's) is left empty where it would name a finer
place than the row's region column does.

**Case rows against the tables** (`suppress_case_outcomes`): counting the rows that name a body in
a month, or their overdue, completed or returned ones, would give back the bodies table's "<5" and
"x". So a body is named only by 5 rows of a month or more, and an outcome whose count the table
would not publish is blank in the group's rows (`publish_case_rows` repeats both rules until
stable). In the regions table, `completed` is withheld like a part of `received` where it is not
larger (the same cases, mostly), and `received` is withheld further where a region's or a
category's month total (a city's or a one-category ministry's `received`) would give a "<5" back
(`suppress_margins`); those groups' case rows leave their region.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from domain.calendar import NATIONAL_ZONE
from domain.open311 import service_for_category

MIN_COUNT = 5
FEWER_THAN_FIVE = "<5"
WITHHELD = "x"
MISSING_VALUES = ("", FEWER_THAN_FIVE, WITHHELD)
# Below this total, a part of 5 or more is always withheld (see the module's docstring).
_SAFE_TOTAL = 9

Cell = int | str

# Months and days are WIB calendar ones, the national administrators' zone (as the dashboard).
ZONE = ZoneInfo(NATIONAL_ZONE)

# The operators' export (ops/open_data.py) and the public case rows: one list of columns.
CASE_COLUMNS = (
    "tracking_id", "submitted_at", "channel", "report_type", "category", "region_code", "status",
    "agency_id", "unit_id", "first_response_at", "completed_at", "overdue", "ombudsman_flagged",
    "bounce_count", "reopen_count", "rating", "archive_reason", "policy_version",
)
PUBLIC_CASE_COLUMNS = tuple(column for column in CASE_COLUMNS if column != "tracking_id")
CASE_DATE_COLUMNS = frozenset({"submitted_at", "first_response_at", "completed_at"})


# --- small counts --------------------------------------------------------------------------------


def count_cell(count: int) -> Cell:
    """A count as published on its own: 0, `"<5"` for 1 to 4, else the count."""
    if count < 0:
        raise ValueError("a count is never negative")
    return FEWER_THAN_FIVE if 0 < count < MIN_COUNT else count


def suppress_group(total: int, parts: Mapping[str, int]) -> tuple[Cell, dict[str, Cell]]:
    """A total and counts that are each a part of it (a subset of the same cases), as published:
    small counts `"<5"`; a part withheld (`"x"`) where `total - part` would give a small count
    back (or the total is under 9). The total itself is never withheld: it is what the row is."""
    cells: dict[str, Cell] = {}
    total_cell = count_cell(total)
    for name, part in parts.items():
        if not 0 <= part <= total:
            raise ValueError(f"{name}: {part} is not a part of {total}")
        cell = count_cell(part)
        if total_cell == total and part >= MIN_COUNT:
            remainder = total - part
            if (0 < remainder < MIN_COUNT) or (total < _SAFE_TOTAL and remainder < MIN_COUNT):
                cell = WITHHELD
        cells[name] = cell
    return total_cell, cells


def median_of(values: Sequence[float], digits: int = 1) -> float | None:
    """The median over 5 values or more; None below that."""
    return round(statistics.median(values), digits) if len(values) >= MIN_COUNT else None


def mean_of(values: Sequence[float], digits: int = 2) -> float | None:
    """The mean over 5 values or more; None below that."""
    return round(statistics.fmean(values), digits) if len(values) >= MIN_COUNT else None


def exact(cell: Cell | None) -> int | None:
    """The count a cell publishes, None when it is suppressed."""
    return cell if isinstance(cell, int) else None


# --- time and place ------------------------------------------------------------------------------


def local_day(instant: datetime) -> date:
    if instant.tzinfo is None:
        raise ValueError("instants must be timezone-aware")
    return instant.astimezone(ZONE).date()


def month_of(instant: datetime) -> str:
    return local_day(instant).strftime("%Y-%m")


def regency_of(region_code: str | None) -> str | None:
    """The regency or city of a Kemendagri code ("32.73.01" → "32.73"); a province stays one."""
    if not region_code:
        return None
    return ".".join(region_code.split(".")[:2])


def province_of(region_code: str | None) -> str | None:
    return region_code.split(".")[0] if region_code else None


def category_code(category: str | None) -> str:
    """A catalogue code: free text a client put in `category` is never published."""
    return service_for_category(category).code


# --- per body per month --------------------------------------------------------------------------


@dataclass(frozen=True)
class Stint:
    """One case's time with one body: from a forwarding (`accept`) to the body to the next one
    away from it or to now. What happened in it, as the timeline tells."""

    agency_id: str
    month: str  # of the forwarding, WIB
    forwarded_in_time: bool  # the forwarding met the verification deadline
    first_response_in_time: bool  # the body's first follow-up met its response deadline
    first_response_hours: float | None  # forwarding to that follow-up
    completed: bool
    returned: bool  # "not our authority"
    overdue: bool  # a response or resolution deadline breached while with the body
    ombudsman: bool  # flagged for the Ombudsman while with the body
    rating: int | None  # the reporter's rating of a case completed with the body


BODY_COUNTS = (
    "forwarded_in_time", "first_response_in_time", "completed", "returned", "overdue", "ombudsman",
)
BODY_COLUMNS = (
    "agency_id", "agency_name", "month", "received", "forwarded_within_deadline",
    "first_response_within_deadline", "median_first_response_hours", "completed",
    "returned_not_our_authority", "overdue", "ombudsman_flagged", "mean_rating",
)
_BODY_COLUMN_OF = {
    "forwarded_in_time": "forwarded_within_deadline",
    "first_response_in_time": "first_response_within_deadline",
    "completed": "completed",
    "returned": "returned_not_our_authority",
    "overdue": "overdue",
    "ombudsman": "ombudsman_flagged",
}


def body_month_rows(stints: Iterable[Stint], names: Mapping[str, str]) -> list[dict[str, Any]]:
    """Per body per month of forwarding: the published row (every count a part of `received`)."""
    groups: dict[tuple[str, str], list[Stint]] = defaultdict(list)
    for stint in stints:
        groups[(stint.agency_id, stint.month)].append(stint)
    rows = []
    for (agency_id, month), group in sorted(groups.items()):
        parts = {_BODY_COLUMN_OF[name]: sum(getattr(stint, name) for stint in group) for name in BODY_COUNTS}
        received, cells = suppress_group(len(group), parts)
        rows.append({
            "agency_id": agency_id,
            "agency_name": names.get(agency_id, agency_id),
            "month": month,
            "received": received,
            **cells,
            "median_first_response_hours": median_of(
                [s.first_response_hours for s in group if s.first_response_hours is not None]),
            "mean_rating": mean_of([s.rating for s in group if s.rating is not None]),
        })
    return [{column: row[column] for column in BODY_COLUMNS} for row in rows]


def on_time_rate(row: Mapping[str, Any], column: str) -> float | None:
    """The share 0..1 of a row's received cases counted in `column`, None unless both are published."""
    part, total = exact(row.get(column)), exact(row.get("received"))
    return part / total if part is not None and total else None


# --- per region per month per category -----------------------------------------------------------


REGION_COLUMNS = ("region_code", "month", "category", "received", "completed")


def _pinned(shown: Sequence[Cell], hidden_sum: int, floors: Sequence[int]) -> bool:
    """Whether the total of a margin pins its `"<5"` cells: knowing the margin's total (so
    `hidden_sum`, the total less its exact cells), each `"<5"` is 1 to 4 and each `"x"` at least
    its floor (5, or the completions shown beside it). The `"<5"` cells are alike: pinned when one
    of them has a single possible value."""
    if FEWER_THAN_FIVE not in shown:
        return False
    others_low = sum(1 if cell == FEWER_THAN_FIVE else floor for cell, floor in zip(shown, floors, strict=True)) - 1
    # The others together: at most 4 each, unless one is withheld (then no upper bound).
    low = 1 if WITHHELD in shown else max(1, hidden_sum - 4 * (len(shown) - 1))
    high = min(4, hidden_sum - others_low)
    return high <= low


def suppress_margins(counts: Mapping[tuple[str, str, str], int], floors: Mapping[tuple[str, str, str], int],
                     shown: Mapping[tuple[str, str, str], Cell]) -> dict[tuple[str, str, str], Cell]:
    """Secondary suppression of the regions table's `received` (keys: region, month, category).

    A region's month total is published in effect by its own body's `received` (a city's cases go
    to the city), a category's month total by a body that takes only that category (a ministry):
    with one `"<5"` in such a margin beside exact cells, the total less them gives it back. So in
    each margin (a region's month, a category's month) whose total would pin a `"<5"`, the smallest
    exact count of 5 or more is withheld (`"x"`) too, until none is pinned or none is left; so is
    one beside a withheld cell alone in its margin (the total less the rest would give it back,
    and with it the other margin it is in). Where no exact cell is left to withhold, the margin
    stays as it is (docs/open-data.md: the known limit)."""
    cells = dict(shown)
    margins: dict[tuple[str, str, str], list[tuple[str, str, str]]] = defaultdict(list)
    for key in counts:
        region, month, category = key
        margins[("region", region, month)].append(key)
        margins[("category", category, month)].append(key)
    changed = True
    while changed:
        changed = False
        for keys in margins.values():
            hidden = [k for k in keys if cells[k] in (FEWER_THAN_FIVE, WITHHELD)]
            # A withheld cell alone is its margin's total less the rest; a "<5" must keep 2 values.
            if len(hidden) != 1 and not _pinned([cells[k] for k in hidden], sum(counts[k] for k in hidden),
                                                [max(MIN_COUNT, floors.get(k, 0)) for k in hidden]):
                continue
            exact_keys = [k for k in keys if isinstance(cells[k], int) and cells[k] >= MIN_COUNT]
            if exact_keys:
                cells[min(exact_keys, key=lambda k: (counts[k], k))] = WITHHELD
                changed = True
    return cells


def region_month_rows(received: Mapping[tuple[str, str, str], int],
                      completed: Mapping[tuple[str, str, str], int]) -> list[dict[str, Any]]:
    """Keys (region or "" when unknown, month, category code): cases received (by month of
    submission) and completed (by month of completion). Completions of earlier months' cases make
    `completed` no part of `received`, but where it is not larger it is treated as one. Received
    counts are then withheld across margins (`suppress_margins`)."""
    keys = sorted(set(received) | set(completed))
    came_cells: dict[tuple[str, str, str], Cell] = {}
    done_cells: dict[tuple[str, str, str], Cell] = {}
    for key in keys:
        came, done = received.get(key, 0), completed.get(key, 0)
        if done <= came:
            # Mostly the same cases (submitted and completed in the month): `received - completed`
            # would give back the small count the bodies table withholds, so the same rule.
            came_cells[key], cells = suppress_group(came, {"completed": done})
            done_cells[key] = cells["completed"]
        else:
            came_cells[key], done_cells[key] = count_cell(came), count_cell(done)
    floors = {key: cell for key, cell in done_cells.items() if isinstance(cell, int)}
    came_cells = suppress_margins({key: received.get(key, 0) for key in keys}, floors, came_cells)
    return [{"region_code": region, "month": month, "category": category,
             "received": came_cells[(region, month, category)], "completed": done_cells[(region, month, category)]}
            for region, month, category in keys]


def withheld_places(region_rows: Iterable[Mapping[str, Any]]) -> set[tuple[str | None, str, str]]:
    """The (region, category, month) groups of case rows whose count the regions table withholds
    though 5 or more: their rows may not stay in that region (counting them would give it back)."""
    return {(row["region_code"] or None, row["category"], row["month"])
            for row in region_rows if row["received"] == WITHHELD}


# --- case rows -----------------------------------------------------------------------------------


def public_case_row(values: Mapping[str, Any]) -> dict[str, Any]:
    """A case's export values as published (before `generalise_places`): dates to the day, the
    category as a catalogue code, the region to the regency, no tracking id."""
    row: dict[str, Any] = {}
    for column in PUBLIC_CASE_COLUMNS:
        value = values.get(column)
        if column in CASE_DATE_COLUMNS and value is not None:
            value = local_day(value).isoformat()
        elif column == "category":
            value = category_code(value)
        elif column == "region_code":
            value = regency_of(value)
        row[column] = value
    return row


def _grouped_enough(sources: Sequence[str | None], rows: int) -> bool:
    """Rows moved up from regions of fewer than 5 each (each shown "<5", i.e. 1 to 4, in the region
    table) may be published together when they are 5 or more, from 2 regions or more, and their sum
    leaves each region two or more possible counts (not all ones, not all fours)."""
    regions = len(set(sources))
    return rows >= MIN_COUNT and regions >= 2 and regions < rows < 4 * regions


def _tells_more(agency_region: str | None, published: str | None) -> bool:
    """Whether a body of `agency_region` names a finer place than the published region."""
    if agency_region is None or agency_region == published:
        return False
    return published is None or not published.startswith(agency_region + ".")


def generalise_places(rows: list[dict[str, Any]],
                      agency_regions: Mapping[str, str | None] | None = None,
                      withheld: Collection[tuple[str | None, str, str]] = ()) -> list[dict[str, Any]]:
    """The published case rows (see the module's docstring): each row's `region_code` kept,
    generalised to its province, blanked, or the row left out. Order kept.

    A regional body names its region: where the row's region was generalised below that body's
    (a city's case shown under its province), the body and unit are left empty too
    (`agency_regions`: each body's region code, None for national bodies). The groups the regions
    table withholds (`withheld`: region, category, month) move up like rare ones."""
    def month(row: dict[str, Any]) -> str:
        return row["submitted_at"][:7]

    by_region: dict[tuple[str | None, str, str], list[int]] = defaultdict(list)
    for index, row in enumerate(rows):
        by_region[(row["region_code"], row["category"], month(row))].append(index)
    placed: dict[int, str | None] = {}
    moved: dict[tuple[str | None, str, str], list[int]] = defaultdict(list)
    for (region, category, in_month), indexes in by_region.items():
        if len(indexes) >= MIN_COUNT and (region, category, in_month) not in withheld:
            placed.update(dict.fromkeys(indexes, region))
        elif region is None:
            moved[(None, category, in_month)] += indexes
        else:
            moved[(province_of(region), category, in_month)] += indexes
    nationally: dict[tuple[str, str], list[int]] = defaultdict(list)
    for (province, category, in_month), indexes in moved.items():
        sources = [rows[i]["region_code"] for i in indexes]
        if province is not None and _grouped_enough(sources, len(indexes)):
            placed.update(dict.fromkeys(indexes, province))
        else:
            nationally[(category, in_month)] += indexes
    for indexes in nationally.values():
        if _grouped_enough([rows[i]["region_code"] for i in indexes], len(indexes)):
            placed.update(dict.fromkeys(indexes, None))
    regions = agency_regions or {}
    published = []
    for index, row in enumerate(rows):
        if index not in placed:
            continue
        row = row | {"region_code": placed[index]}
        if row.get("agency_id") and _tells_more(regions.get(row["agency_id"]), placed[index]):
            row |= {"agency_id": None, "unit_id": None}
        published.append(row)
    return published


# Each count of the bodies table has a column of the case rows that gives it back when counted
# over one body's rows of a month: the columns that are blanked together when that count may not
# be published (a completion also shows in the status, the rating and the archive reason).
_OUTCOME_COLUMNS = {
    "completed": ("completed_at", "status", "rating", "archive_reason"),
    "first_response": ("first_response_at", "status"),
    "returned": ("bounce_count", "status"),  # a verified case awaiting verification was returned
    "overdue": ("overdue",),
    "ombudsman": ("ombudsman_flagged",),
}


def _outcomes(row: Mapping[str, Any]) -> dict[str, bool]:
    return {
        "completed": row.get("completed_at") is not None,
        "first_response": row.get("first_response_at") is not None,
        "returned": bool(row.get("bounce_count")),
        "overdue": bool(row.get("overdue")),
        "ombudsman": bool(row.get("ombudsman_flagged")),
    }


def suppress_case_outcomes(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The case rows made to agree with the bodies table's suppression (after `generalise_places`).

    Counting the rows that name a body in a month gives that body's `received`, and counting
    their `overdue` (or completions, returns...) gives its parts: the case rows would hand back
    every "<5" and "x" the bodies table hides. So, per body shown and month of submission:
    fewer than 5 rows leave the body (and unit) unnamed, and those rows are published only where,
    pooled in their month, they pass the rule of moved rows (5 or more from 2 bodies or more,
    each body's "<5" left ambiguous), else they are left out; in a group of 5 or more, each
    outcome whose count `suppress_group` would not publish is blanked in all the group's rows,
    and ratings are blanked where fewer than 5 (the bodies table's mean needs 5). Rows naming no
    body (a case returned to verification, a regional body left unnamed) are a group of their
    month: their outcomes too would be counted for the body their region names."""
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for index, row in enumerate(rows):
        groups[(row.get("agency_id") or "", row["submitted_at"][:7])].append(index)
    blanked: dict[int, dict[str, Any]] = {}
    pooled: dict[str, list[int]] = defaultdict(list)
    for (agency_id, in_month), indexes in groups.items():
        if agency_id and len(indexes) < MIN_COUNT:
            pooled[in_month] += indexes
            continue
        counts = {name: sum(_outcomes(rows[i])[name] for i in indexes) for name in _OUTCOME_COLUMNS}
        _, cells = suppress_group(len(indexes), counts)
        hidden = {column for name, cell in cells.items() if cell != counts[name]
                  for column in _OUTCOME_COLUMNS[name]}
        if sum(rows[i].get("rating") is not None for i in indexes) < MIN_COUNT:
            hidden.add("rating")
        for i in indexes:
            blanked[i] = dict.fromkeys(hidden)
    left_out: set[int] = set()
    for indexes in pooled.values():
        if _grouped_enough([rows[i]["agency_id"] for i in indexes], len(indexes)):
            for i in indexes:
                blanked[i] = {"agency_id": None, "unit_id": None}
        else:
            left_out.update(indexes)
    return [row | blanked.get(index, {}) for index, row in enumerate(rows) if index not in left_out]


def publish_case_rows(rows: list[dict[str, Any]],
                      agency_regions: Mapping[str, str | None] | None = None,
                      withheld: Collection[tuple[str | None, str, str]] = ()) -> list[dict[str, Any]]:
    """The published case rows: places generalised and outcomes suppressed, again until neither
    changes anything (a row left out by one can leave a place or a body's group too small for
    the other; each round only blanks or leaves out, so it ends)."""
    while True:
        published = suppress_case_outcomes(generalise_places(rows, agency_regions, withheld))
        if published == rows:
            return published
        rows = published


# --- the data package (Frictionless Data Package v1 descriptor) ------------------------------------


LICENCE = {"name": "CC-BY-4.0", "title": "Creative Commons Attribution 4.0 International",
           "path": "https://creativecommons.org/licenses/by/4.0/"}
UPDATE_FREQUENCY = "daily"
_COUNT_NOTE = ' "<5": 1 to 4; "x": withheld so that a "<5" cannot be worked out from the total.'


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    description: str


@dataclass(frozen=True)
class Dataset:
    name: str
    title: dict[str, str]  # by language: id, en
    description: dict[str, str]
    fields: tuple[Field, ...]


def _count(name: str, description: str) -> Field:
    return Field(name, "integer", description + _COUNT_NOTE)


DATASETS: tuple[Dataset, ...] = (
    Dataset(
        "bodies",
        {"id": "Kinerja instansi per bulan", "en": "Each body's performance per month"},
        {"id": "Per instansi per bulan penerusan (WIB): laporan yang diterima dan apa yang terjadi pada laporan "
               "itu: diteruskan tepat waktu (3 hari kerja), tanggapan pertama tepat waktu (5 hari kerja), median "
               "waktu tanggapan pertama, selesai, dikembalikan karena bukan kewenangan, melewati batas waktu, "
               "ditandai untuk Ombudsman, rata-rata penilaian pelapor. Jumlah 1-4 ditulis \"<5\".",
         "en": "Per body and month of forwarding (WIB): the cases received and what came of them: forwarded "
               "within the deadline (3 working days), first response within the deadline (5 working days), "
               "median time to first response, completed, returned as not the body's authority, overdue, "
               "flagged for the Ombudsman, mean rating by reporters. Counts of 1-4 are shown as \"<5\"."},
        (
            Field("agency_id", "string", "The body's id in the directory (GET /v1/agencies/{id})."),
            Field("agency_name", "string", "The body's name."),
            Field("month", "yearmonth", "Month the cases were forwarded to the body (WIB)."),
            _count("received", "Cases forwarded to the body this month (a case forwarded twice counts twice)."),
            _count("forwarded_within_deadline", "Of those, forwarded within the verification deadline."),
            _count("first_response_within_deadline", "Of those, first followed up within the response deadline."),
            Field("median_first_response_hours", "number",
                  "Median hours from forwarding to the first follow-up; empty under 5 follow-ups."),
            _count("completed", "Of those, completed with this body."),
            _count("returned_not_our_authority", "Of those, returned by the body as not its authority."),
            _count("overdue", "Of those, past a response or resolution deadline while with the body."),
            _count("ombudsman_flagged", "Of those, flagged for the Ombudsman while with the body."),
            Field("mean_rating", "number", "Mean rating 1-5 of the cases completed; empty under 5 ratings."),
        ),
    ),
    Dataset(
        "regions",
        {"id": "Laporan per wilayah, bulan dan kategori", "en": "Cases per region, month and category"},
        {"id": "Per kabupaten/kota (atau provinsi bila hanya itu yang diketahui), bulan (WIB) dan kategori: "
               "laporan yang diterima (bulan pengajuan) dan yang selesai (bulan selesai). Jumlah 1-4 ditulis \"<5\".",
         "en": "Per regency or city (or province when only that is known), month (WIB) and category: cases "
               "received (month of submission) and completed (month of completion). Counts of 1-4 are shown "
               "as \"<5\"."},
        (
            Field("region_code", "string", "Kemendagri code of the regency or city; empty when unknown."),
            Field("month", "yearmonth", "Month (WIB)."),
            Field("category", "string", "Category code (the Open311 service code)."),
            _count("received", "Cases submitted this month (and verified)."),
            _count("completed", "Cases completed this month."),
        ),
    ),
    Dataset(
        "cases",
        {"id": "Laporan (tanpa data pribadi)", "en": "Cases (no personal data)"},
        {"id": "Satu baris per laporan yang terverifikasi dan tidak rahasia, tanpa judul, isi, lokasi, atau data "
               "pelapor; tanggal sampai hari. Wilayah yang jarang (kurang dari 5 laporan dengan kategori dan bulan "
               "yang sama) diganti provinsinya atau dikosongkan.",
         "en": "One row per verified, non-confidential case, without its title, text, location or anything about "
               "the reporter; dates to the day. Rare places (fewer than 5 cases with the same category and month) "
               "are replaced by their province or left empty."},
        (
            Field("submitted_at", "date", "Day of submission (WIB)."),
            Field("channel", "string", "How it came in: web, api, open311, sms, walk_in."),
            Field("report_type", "string", "aspirasi, permintaan_informasi, pengaduan, pengaduan_berkadar_pengawasan."),
            Field("category", "string", "Category code (the Open311 service code)."),
            Field("region_code", "string", "Kemendagri code: regency or city, or its province, or empty."),
            Field("status", "string", "Status now."),
            Field("agency_id", "string", "The body holding the case now."),
            Field("unit_id", "string", "The body's unit holding it, if disposed."),
            Field("first_response_at", "date", "Day of the first follow-up (WIB)."),
            Field("completed_at", "date", "Day of completion (WIB)."),
            Field("overdue", "boolean", "A clock is past its deadline now."),
            Field("ombudsman_flagged", "boolean", "Flagged for the Ombudsman."),
            Field("bounce_count", "integer", "Times returned as not a body's authority."),
            Field("reopen_count", "integer", "Times reopened after a low rating."),
            Field("rating", "integer", "The reporter's rating, 1-5."),
            Field("archive_reason", "string", "Why archived, if archived."),
            Field("policy_version", "string", "The deadline policy the case runs under."),
        ),
    ),
)
DATASETS_BY_NAME = {dataset.name: dataset for dataset in DATASETS}
FORMATS = {"csv": "text/csv; charset=utf-8", "json": "application/json"}


def file_name(dataset: str, fmt: str) -> str:
    return f"{dataset}.{fmt}"


def datapackage(version: int, created: datetime, rows: Mapping[str, int], source: str) -> dict[str, Any]:
    """The descriptor of a version: every dataset as a CSV resource and a JSON one, same schema."""
    resources = []
    for dataset in DATASETS:
        schema = {
            "fields": [{"name": f.name, "type": f.type, "description": f.description} for f in dataset.fields],
            "missingValues": list(MISSING_VALUES),
        }
        for fmt in FORMATS:
            resources.append({
                "name": dataset.name if fmt == "csv" else f"{dataset.name}-{fmt}",
                "path": file_name(dataset.name, fmt),
                "profile": "tabular-data-resource",
                "format": fmt,
                "mediatype": FORMATS[fmt].split(";")[0],
                **({"encoding": "utf-8"} if fmt == "csv" else {}),
                "title": dataset.title["id"],
                "description": dataset.description["id"],
                "title_en": dataset.title["en"],
                "description_en": dataset.description["en"],
                "rows": rows.get(dataset.name, 0),
                "schema": schema,
            })
    return {
        "profile": "tabular-data-package",
        "name": "sp4n-open-data",
        "title": "Data terbuka pengaduan SP4N",
        "title_en": "SP4N complaints open data",
        "description": "Kinerja setiap instansi dalam menangani pengaduan, dan laporan tanpa data pribadi. "
                       "Diperbarui setiap hari.",
        "description_en": "How each body handles complaints, and the cases without personal data. Updated daily.",
        "version": str(version),
        "created": created.astimezone(ZONE).isoformat(timespec="seconds"),
        "updateFrequency": UPDATE_FREQUENCY,
        "licenses": [LICENCE],
        "sources": [{"title": "SP4N Engine: the timeline of every case (read model)", "path": source}],
        "keywords": ["pengaduan", "complaints", "SP4N-LAPOR", "pelayanan publik"],
        "resources": resources,
    }
