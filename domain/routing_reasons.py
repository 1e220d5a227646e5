"""Why a body or unit is suggested, in Indonesian and English (issue 23, item 8).

The router writes each reason in Indonesian through `say` (stored with the suggestion, in the
case's state and history); a page in English reads it back through `in_language`, which matches each
part against the same templates. One table, so a reason the router can say is one a page can
translate; suggestions stored before a template changed are shown as they were written.
"""

from __future__ import annotations

import re
from functools import cache
from string import Formatter

SEPARATOR = "; "

# name: (Indonesian, English). Placeholders are names, places and percentages, shown as written.
# Order matters for reading back: a more specific template before one it would also match.
REASONS: dict[str, tuple[str, str]] = {
    "chosen": ("dipilih pelapor: {name}", "chosen by the reporter: {name}"),
    "addressed": ("ditujukan pelapor ke {term}", "addressed by the reporter to {term}"),
    "landmark": ("menyebut {term} sebagai patokan", "mentions {term} as a landmark"),
    "mentions": ("menyebut {term}", "mentions {term}"),
    "region_named": ('wilayah {region} (disebut "{term}")', 'region {region} (named "{term}")'),
    "region": ("wilayah {region}", "region {region}"),
    "regional_matter": ("urusan pemerintah daerah ({share})", "a regional government's matter ({share})"),
    "sector": ("urusan {label}", "sector: {label}"),
    "branch": ("cabang {unit}", "branch {unit}"),
    "learned": ("{count} keputusan serupa ke {name} ({share})", "{count} similar decisions went to {name} ({share})"),
    "learned_units": ("{count} disposisi serupa ({share})", "{count} similar dispositions ({share})"),
    "like_cases": ("mirip laporan ke {name} ({share})", "like complaints sent to {name} ({share})"),
    "declined_before": ("pernah menolak laporan serupa ({share} mirip)",
                        "declined similar complaints before ({share} alike)"),
    "alias_only": ("hanya nama program/singkatan", "named only by a programme name or abbreviation"),
    "local_decisions": ("keputusan serupa ke {name} ({share})", "similar decisions went to {name} ({share})"),
    "declined_here": ("{region} menyatakan bukan wewenang", "{region} said it is not its authority"),
    "office": ("punya kantor di wilayah {region}", "has an office in {region}"),
}

# The sectors' labels (activities/routing.py SECTOR_RULES) in English.
SECTOR_LABELS_EN: dict[str, str] = {
    "KTP/KK/akta": "ID cards, family cards, certificates",
    "jalan/drainase": "roads and drainage",
    "lalu lintas/angkutan": "traffic and transport",
    "sampah/lingkungan": "waste and environment",
    "layanan kesehatan": "health services",
    "sekolah": "schools",
    "bantuan sosial": "social assistance",
    "ketertiban": "public order",
}


def say(reason: str, /, **values: str) -> str:
    """The reason in Indonesian, as the router stores it."""
    return REASONS[reason][0].format(**values)


@cache
def _readers() -> tuple[tuple[re.Pattern[str], str], ...]:
    readers = []
    for indonesian, english in REASONS.values():
        pattern = "".join(
            re.escape(literal) + (f"(?P<{field}>.+?)" if field else "")
            for literal, field, _, _ in Formatter().parse(indonesian)
        )
        readers.append((re.compile(f"^{pattern}$"), english))
    return tuple(readers)


def in_language(reason: str, language: str) -> str:
    """A stored reason (parts joined by "; ") in the page's language; a part no template reads
    (written before a template changed) is shown as written."""
    if language == "id" or not reason:
        return reason
    parts = []
    for part in reason.split(SEPARATOR):
        for pattern, english in _readers():
            found = pattern.match(part)
            if found:
                values = found.groupdict()
                if "label" in values:
                    values["label"] = SECTOR_LABELS_EN.get(values["label"], values["label"])
                part = english.format(**values)
                break
        parts.append(part)
    return SEPARATOR.join(parts)
