"""Imports a routing engineer can live with (issue 22, item 6): `python -m ops import-units` and
`import-routing-history` list every error with its row and a total, exit with status 2 and no
traceback, detect (or take) the delimiter, strip control characters when asked, and say "did you
mean" for a body that is almost one of the directory."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.pool import NullPool

from db.models import AgencyUnit
from db.session import make_engine, make_sessionmaker
from tests.crypto import TEST_ENVIRONMENT

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    folder = tmp_path_factory.mktemp("imports")
    values = TEST_ENVIRONMENT | {"DATABASE_URL": f"sqlite:///{folder / 'imports.db'}", "PATH": "/usr/bin:/bin"}
    for command in ("migrate", "seed"):
        assert ops(values, command).returncode == 0
    yield values


def ops(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ops", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def refused(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return result.stderr


def units(env: dict[str, str], agency_id: str) -> dict[str, str]:
    with make_sessionmaker(make_engine(env["DATABASE_URL"], poolclass=NullPool))() as session:
        return {u.id: u.name for u in session.scalars(select(AgencyUnit).where(AgencyUnit.agency_id == agency_id))}


def test_a_semicolon_unit_file_with_errors_lists_each_row_and_imports_nothing(env, tmp_path: Path) -> None:
    before = units(env, "pemkot-35.78")
    path = tmp_path / "unit.csv"
    path.write_text("slug;name;kind\n"
                    "kel-genteng;Kelurahan Genteng;kelurahan\n"
                    "Dinas PU;Dinas Pekerjaan Umum;dinas\n"
                    "kel-ketabang;Kelurahan Ketabang\x07;kelurahan\n"
                    "kel-genteng;Kelurahan Genteng Lagi;kelurahan\n"
                    "x;Ab;unit\n", encoding="utf-8")
    report = refused(ops(env, "import-units", "pemkot-35.78", str(path)))
    assert "4 kesalahan pada 4 baris" in report.splitlines()[0]
    assert "baris 3, kolom slug: slug 'Dinas PU' tidak sah" in report and "misalnya 'dinas-pu'" in report
    assert "baris 4, kolom name: karakter kendali U+0007" in report and "--strip-control-characters" in report
    assert "baris 5, kolom slug: slug kel-genteng berulang (sudah di baris 2)" in report
    assert "baris 6, kolom name" in report
    assert units(env, "pemkot-35.78") == before

    path.write_text("slug;name;kind\nkel-genteng;Kelurahan Genteng;kelurahan\n"
                    "kel-ketabang;Kelurahan Ketabang\x07;kelurahan\n", encoding="utf-8")
    done = ops(env, "import-units", "pemkot-35.78", str(path), "--strip-control-characters")
    assert done.returncode == 0 and "2 created" in done.stdout, done.stdout + done.stderr
    assert units(env, "pemkot-35.78")["pemkot-35.78/kel-ketabang"] == "Kelurahan Ketabang"


def test_a_named_delimiter_and_an_unreadable_file_are_said_plainly(env, tmp_path: Path) -> None:
    path = tmp_path / "unit.csv"
    path.write_text("slug;name\nkel-a;Kelurahan A\n", encoding="utf-8")
    report = refused(ops(env, "import-units", "pemkot-35.78", str(path), "--delimiter", ","))
    assert "kolom wajib tidak ada: slug, name" in report and "pemisah koma (,): slug;name" in report
    report = refused(ops(env, "import-units", "pemkot-35.78", str(tmp_path / "tidak-ada.csv")))
    assert "tidak-ada.csv" in report
    report = refused(ops(env, "import-routing-history", str(tmp_path / "tidak-ada.csv")))
    assert "tidak-ada.csv tidak ditemukan" in report


def test_history_errors_carry_rows_a_total_and_did_you_mean(env, tmp_path: Path) -> None:
    path = tmp_path / "riwayat.csv"
    path.write_text("text;agency_id;unit_id;region_code;date\n"
                    "Lampu jalan padam;pemkot-3578;;35.78;2025-01-02\n"
                    "Jalan berlubang;pemkot-35.78;pupr;35.78;kemarin\n"
                    "Sampah menumpuk;Pemerintah Kota Surabaya;;35.78;\n"
                    "Taman rusak;pemkot-35.78;dinas-taman;35.78;\n"
                    "Bantuan\x0b tidak cair\x01;pemkot-35.78;;35.78;\n", encoding="utf-8")
    report = refused(ops(env, "import-routing-history", str(path)))
    assert report.splitlines()[0].endswith("5 kesalahan pada 5 baris")  # every one, in one pass
    assert "baris 6, kolom text: karakter kendali U+0001" in report
    report = refused(ops(env, "import-routing-history", str(path), "--strip-control-characters"))
    assert report.splitlines()[0].endswith("4 kesalahan pada 4 baris")
    assert "baris 6" not in report
    assert "baris 2, kolom agency_id: instansi 'pemkot-3578' tidak dikenal (maksud Anda: pemkot-35.78" in report
    assert "baris 3, kolom date: tanggal 'kemarin'" in report
    assert "baris 4, kolom agency_id" in report and "maksud Anda: pemkot-35.78 Pemerintah Kota Surabaya" in report
    assert "baris 5, kolom unit_id: unit pemkot-35.78/dinas-taman tidak ada" in report


def test_a_shell_without_the_settings_is_told_what_to_set_not_shown_a_traceback(env, tmp_path: Path) -> None:
    path = tmp_path / "unit.csv"
    path.write_text("slug,name\nkel-a,Kelurahan A\n", encoding="utf-8")
    bare = {"PATH": env["PATH"], "DATABASE_URL": env["DATABASE_URL"], "ENVIRONMENT": "production"}
    report = refused(ops(bare, "import-units", "pemkot-35.78", str(path)))
    assert "Pengaturan lingkungan tidak lengkap" in report and "SP4N_ADMIN_TOKEN must be set" in report
    report = refused(ops(bare, "import-routing-history", str(path)))
    assert "Pengaturan lingkungan tidak lengkap" in report


def test_a_missing_column_lists_the_known_columns_once_each(env, tmp_path: Path) -> None:
    path = tmp_path / "riwayat.csv"
    path.write_text("agency_id\npemkot-35.78\n", encoding="utf-8")
    report = refused(ops(env, "import-routing-history", str(path)))
    assert "kolom yang dikenal: text, agency_id, region_code, unit_id, date" in report
