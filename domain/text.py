"""The one rule for text that people send us, at every door and for every field we store or echo.

A stored text may carry letters of any script, tab and line feed; nothing else that is a control
character. Line breaks however written (CR LF, CR, Word's vertical tab, form feed, NEL, U+2028,
U+2029) become a line feed. Refused, with the field named (422 at the HTTP doors, GeoReport's 400
at Open311): NUL and every other C0 control, DEL and the C1 controls (U+0080-U+009F), lone
surrogates (no database can store them) and U+FFFE/U+FFFF (XML 1.0 forbids them). So a case can
never be acknowledged and then fail to record because of its text (PostgreSQL refuses NUL), and
whatever is stored is valid in XML and JSON.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

LINE_BREAKS = re.compile("\r\n|[\r\x0b\x0c\x85\u2028\u2029]")
# What remains forbidden once line breaks are line feeds (tab and line feed are fine).
FORBIDDEN = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


class TextRefused(ValueError):
    """A text with a character we never store; the message names the character."""


def forbidden_character(value: str) -> str | None:
    """The first character the rule refuses, as U+XXXX, or None when the text is acceptable."""
    found = FORBIDDEN.search(LINE_BREAKS.sub("\n", value))
    return f"U+{ord(found.group()):04X}" if found else None


def clean_text(value: str) -> str:
    """The text with its line breaks as line feeds; TextRefused for a forbidden character."""
    value = LINE_BREAKS.sub("\n", value)
    found = FORBIDDEN.search(value)
    if found:
        raise TextRefused(
            f"karakter kendali {f'U+{ord(found.group()):04X}'} tidak diizinkan "
            "(control character not allowed)"
        )
    return value


def single_line(value: str) -> str:
    """A one-line field (a name, an address line): clean, and line breaks refused too."""
    value = clean_text(value)
    if "\n" in value or "\t" in value:
        raise TextRefused("hanya satu baris (a single line only)")
    return value


# Pydantic types: strip and length constraints apply to the cleaned text.
CleanText = Annotated[str, AfterValidator(clean_text)]
OneLine = Annotated[str, AfterValidator(single_line)]


def text(max_length: int | None, *, min_length: int = 0, strip: bool = False) -> object:
    """A free-text field type (line breaks allowed) of at most `max_length` characters."""
    return Annotated[str, StringConstraints(strip_whitespace=strip, min_length=min_length or None,
                                            max_length=max_length), AfterValidator(clean_text)]


def line(max_length: int | None, *, min_length: int = 0, strip: bool = True) -> object:
    """A one-line field type of at most `max_length` characters."""
    return Annotated[str, StringConstraints(strip_whitespace=strip, min_length=min_length or None,
                                            max_length=max_length), AfterValidator(single_line)]


# --- Machine doors (Open311, SMS gateways) ---------------------------------------------------------
# A person at a form can fix their text; a machine resends the same bytes forever. So at the
# machine doors (issue 24) a text is repaired instead of refused: a C1 control is almost always a
# Windows-1252 byte read as Latin-1 (FixMyStreet's client sends U+0092 for the apostrophe ’), so
# it becomes the character meant; every other forbidden character is removed. The case says so
# (`MachineTextRepairs.note`). The human doors keep their 422.

C1 = re.compile("[\x80-\x9f]")


@dataclass
class MachineTextRepairs:
    """What repair_machine_text changed, summed over the fields of one message."""

    restored: dict[str, str] = field(default_factory=dict)  # "U+0092" -> "’"
    removed: set[str] = field(default_factory=set)  # "U+001B"

    def __bool__(self) -> bool:
        return bool(self.restored or self.removed)

    def note(self, door: str) -> str | None:
        """One line for the case's record (Indonesian, English in parentheses), or None."""
        if not self:
            return None
        parts_id, parts_en = [], []
        if self.restored:
            shown = ", ".join(f"{code} → {char}" for code, char in sorted(self.restored.items()))
            parts_id.append(f"karakter Windows-1252 dipulihkan ({shown})")
            parts_en.append("Windows-1252 characters restored")
        if self.removed:
            shown = ", ".join(sorted(self.removed))
            parts_id.append(f"karakter kendali dihapus ({shown})")
            parts_en.append("control characters removed")
        return f"Teks dari {door} diperbaiki: {'; '.join(parts_id)} (text repaired: {', '.join(parts_en)})."


def repair_machine_text(value: str, repairs: MachineTextRepairs) -> str:
    """The text as a machine door stores it (see above); what changed is added to `repairs`."""

    def restore(found: re.Match[str]) -> str:
        code = f"U+{ord(found.group()):04X}"
        try:
            meant = bytes([ord(found.group())]).decode("cp1252")
        except UnicodeDecodeError:  # 0x81, 0x8D, 0x8F, 0x90, 0x9D: no character in Windows-1252
            repairs.removed.add(code)
            return ""
        repairs.restored[code] = meant
        return meant

    def remove(found: re.Match[str]) -> str:
        repairs.removed.add(f"U+{ord(found.group()):04X}")
        return ""

    value = C1.sub(restore, value)
    return FORBIDDEN.sub(remove, LINE_BREAKS.sub("\n", value))
