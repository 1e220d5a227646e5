"""Reading an imported table (routing history, units) the way a routing engineer can live with.

One reader for the CLI, the API and the portal: the delimiter detected from the header (comma,
semicolon, tab or bar) or named, and said back; every problem kept with its row number (the line
of the file, the header being line 1, as a spreadsheet numbers it), never only the first ones;
control characters either refused per cell (naming the option that strips them) or stripped and
counted; a "did you mean" for a name that is almost one we know. Pure: no files, no database.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from domain.text import FORBIDDEN, LINE_BREAKS

DELIMITERS = {",": "koma (,)", ";": "titik koma (;)", "\t": "tab", "|": "garis tegak (|)"}
STRIP_OPTION = "--strip-control-characters"


@dataclass(frozen=True)
class RowError:
    row: int | None  # the line of the file (header = 1); None for the file as a whole
    message: str
    column: str | None = None

    def __str__(self) -> str:
        where = f"baris {self.row}" if self.row is not None else "berkas"
        return f"{where}{f', kolom {self.column}' if self.column else ''}: {self.message}"


@dataclass
class Table:
    rows: list[tuple[int, dict[str, str]]]  # (line of the file, the row)
    delimiter: str = ","
    stripped: int = 0  # control characters removed (with strip_control)
    errors: list[RowError] = field(default_factory=list)

    @property
    def delimiter_name(self) -> str:
        return DELIMITERS.get(self.delimiter, repr(self.delimiter))


class TableRefused(ValueError):
    """The import as a whole cannot be read or holds errors: every error, with a total."""

    def __init__(self, errors: list[RowError], what: str = "Tidak ada yang diimpor") -> None:
        self.errors = errors
        rows = len({e.row for e in errors if e.row is not None})
        super().__init__(f"{what}: {len(errors)} kesalahan" + (f" pada {rows} baris" if rows else ""))

    def report(self) -> str:
        """The summary line, then every error on a line of its own."""
        return "\n".join([str(self), *(f"  {error}" for error in self.errors)])


def detect_delimiter(header: str, expected: Iterable[str]) -> str:
    """The delimiter that splits the header into the most expected column names (comma on a tie)."""
    expected = {name.casefold() for name in expected}

    def fit(delimiter: str) -> tuple[int, int]:
        names = [part.strip().strip('"').casefold() for part in header.split(delimiter)]
        return (sum(name in expected for name in names), len(names))

    return max(DELIMITERS, key=lambda d: (fit(d), d == ","))


def strip_control(value: str) -> tuple[str, int]:
    """The text without the characters the text rule refuses (domain/text.py), and how many."""
    value = LINE_BREAKS.sub("\n", value)
    cleaned, count = FORBIDDEN.subn("", value)
    return cleaned, count


def read_table(
    content: str,
    *,
    required: Iterable[str],
    optional: Iterable[str] = (),
    delimiter: str | None = None,
    strip_control_characters: bool = False,
    max_rows: int | None = None,
) -> Table:
    """Parse a CSV text into rows keyed by column name; TableRefused for what makes it unreadable
    (a missing column, too many rows). Cell problems (control characters) are in `errors`."""
    required, optional = list(required), list(optional)
    content = content.lstrip("\ufeff")
    header = content.split("\n", 1)[0]
    if delimiter is None:
        delimiter = detect_delimiter(header, [*required, *optional])
    elif delimiter in ("\\t", "tab"):
        delimiter = "\t"
    reader = csv.DictReader(io.StringIO(content), delimiter=delimiter)
    names = [name.strip() for name in (reader.fieldnames or ())]
    reader.fieldnames = names
    missing = [name for name in required if name not in names]
    if missing:
        raise TableRefused([RowError(1, (
            f"kolom wajib tidak ada: {', '.join(missing)}; kolom yang terbaca dengan pemisah "
            f"{DELIMITERS.get(delimiter, repr(delimiter))}: {', '.join(names) or '(tidak ada)'}; "
            f"kolom yang dikenal: {', '.join(dict.fromkeys([*required, *optional]))}"))], "Berkas tidak dapat dibaca")
    table = Table([], delimiter)
    try:
        for row in reader:
            line = reader.line_num
            clean: dict[str, str] = {}
            for name, value in row.items():
                if name is None:  # more cells than columns
                    table.errors.append(RowError(line, f"{len(value)} sel lebih dari jumlah kolom ({len(names)})"))
                    continue
                value = value or ""
                if strip_control_characters:
                    value, count = strip_control(value)
                    table.stripped += count
                elif (found := FORBIDDEN.search(LINE_BREAKS.sub("\n", value))) is not None:
                    table.errors.append(RowError(line, f"karakter kendali U+{ord(found.group()):04X}; "
                                                       f"pakai {STRIP_OPTION} untuk membuangnya", name))
                clean[name] = value
            table.rows.append((line, clean))
            if max_rows is not None and len(table.rows) > max_rows:
                raise TableRefused([RowError(None, f"paling banyak {max_rows} baris sekali impor")],
                                   "Berkas terlalu besar")
    except csv.Error as error:
        raise TableRefused([RowError(reader.line_num, f"CSV rusak: {error}")], "Berkas tidak dapat dibaca") from error
    if not table.rows:
        raise TableRefused([RowError(None, "tidak ada baris data")], "Berkas kosong")
    return table


def did_you_mean(value: str, known: Mapping[str, str], n: int = 3) -> str:
    """' (maksud Anda: pemkot-35.78 Pemerintah Kota Surabaya?)' for a value close to a known id or
    name (`known`: id -> name); '' when nothing is close."""
    if not value:
        return ""
    folded = {key.casefold(): key for key in known}
    by_name = {name.casefold(): key for key, name in known.items()}
    target = value.casefold().strip()
    digits = re.sub(r"[^0-9a-z]", "", target)
    squeezed = {re.sub(r"[^0-9a-z]", "", key): key for key in folded}  # "pemkot3578" -> "pemkot-35.78"
    hits = [folded[k] for k in difflib.get_close_matches(target, list(folded), n=n, cutoff=0.75)]
    if digits in squeezed:
        hits.insert(0, folded[squeezed[digits]])
    hits += [by_name[k] for k in difflib.get_close_matches(target, list(by_name), n=n, cutoff=0.75)]
    unique = list(dict.fromkeys(hits))[:n]
    if not unique:
        return ""
    return " (maksud Anda: " + " atau ".join(f"{key} {known[key]}" for key in unique) + "?)"


_SLUG_CHARACTERS = re.compile(r"[^a-z0-9._-]+")


def slug_problem(slug: str, pattern: str) -> str | None:
    """A plain-words reason a unit slug is not valid, with a valid one to use; None when valid."""
    if re.fullmatch(pattern, slug):
        return None
    suggestion = _SLUG_CHARACTERS.sub("-", slug.casefold()).strip("-._")[:64]
    rule = "huruf kecil, angka, titik, garis bawah atau tanda hubung, diawali huruf atau angka, paling panjang 64"
    hint = f"; misalnya {suggestion!r}" if suggestion and re.fullmatch(pattern, suggestion) else ""
    return f"slug {slug!r} tidak sah ({rule}){hint}" if slug else "slug kosong"
