"""The import reader (domain/table_import.py): delimiters, rows as the file numbers them, control
characters, "did you mean"."""

from __future__ import annotations

import pytest

from domain.table_import import TableRefused, detect_delimiter, did_you_mean, read_table, slug_problem

KNOWN = {"pemkot-35.78": "Pemerintah Kota Surabaya", "pemkot-33.74": "Pemerintah Kota Semarang", "kemensos": "Kementerian Sosial"}


@pytest.mark.parametrize(("header", "delimiter"), [
    ("text,agency_id", ","), ("text;agency_id;unit_id", ";"), ("text\tagency_id", "\t"), ("text|agency_id", "|"),
    ("teks", ","),  # nothing fits: the comma, and the missing column is said
])
def test_the_delimiter_is_the_one_that_finds_the_columns(header: str, delimiter: str) -> None:
    assert detect_delimiter(header, ["text", "agency_id", "unit_id"]) == delimiter


def test_rows_are_numbered_as_lines_of_the_file_and_every_cell_error_is_kept() -> None:
    table = read_table('slug;name\n"a";"Satu\nDua"\nb;B\x07\nc;C\x01\n', required=["slug", "name"])
    assert table.delimiter_name == "titik koma (;)"
    assert [n for n, _ in table.rows] == [3, 4, 5]  # a quoted line break: the row ends on line 3
    assert [(e.row, e.column) for e in table.errors] == [(4, "name"), (5, "name")]
    stripped = read_table("slug,name\nb,B\x07\n", required=["slug", "name"], strip_control_characters=True)
    assert stripped.rows == [(2, {"slug": "b", "name": "B"})] and stripped.stripped == 1 and not stripped.errors


def test_a_missing_column_names_what_was_read() -> None:
    with pytest.raises(TableRefused) as refused:
        read_table("slug;nama\na;A\n", required=["slug", "name"])
    assert "kolom wajib tidak ada: name" in refused.value.report() and "slug, nama" in refused.value.report()


@pytest.mark.parametrize(("typed", "hint"), [
    ("pemkot-3578", "pemkot-35.78"), ("Pemerintah Kota Surabya", "pemkot-35.78"), ("kemensoss", "kemensos"),
])
def test_did_you_mean(typed: str, hint: str) -> None:
    assert f"maksud Anda: {hint}" in did_you_mean(typed, KNOWN)


def test_nothing_close_means_no_hint_and_a_slug_problem_suggests_a_slug() -> None:
    assert did_you_mean("dinas-kebersihan-xyz", KNOWN) == ""
    assert "misalnya 'dinas-pu'" in slug_problem("Dinas PU", r"^[a-z0-9][a-z0-9._-]{0,63}$")
    assert slug_problem("dinas-pu", r"^[a-z0-9][a-z0-9._-]{0,63}$") is None
