"""The text rule (domain/text.py) and the contact checks (domain/contacts.py) on their own."""

from __future__ import annotations

import pytest

from portal.web import safe_next, same_site_path
from domain.contacts import ContactRefused, normalise_email, normalise_phone, usable_email, usable_phone
from domain.text import TextRefused, clean_text, forbidden_character, single_line


@pytest.mark.parametrize("character", ["\x00", "\x07", "\x1b", "\x1f", "\x7f", "\x80", "\x9b", "\x9f",
                                       "\ud800", "\udfff", "\ufffe", "\uffff"])
def test_control_characters_are_refused_and_named(character: str) -> None:
    assert forbidden_character(f"a{character}b") == f"U+{ord(character):04X}"
    with pytest.raises(TextRefused, match=f"U\\+{ord(character):04X}"):
        clean_text(f"a{character}b")


def test_line_breaks_become_line_feeds_and_letters_of_any_script_stay() -> None:
    assert clean_text("a\r\nb\rc\x0bd\x0ce\x85f\u2028g\u2029h\ti") == "a\nb\nc\nd\ne\nf\ng\nh\ti"
    assert clean_text("Jalan rusak — ꦗꦭꦤ꧀ 道路 🚧") == "Jalan rusak — ꦗꦭꦤ꧀ 道路 🚧"
    assert forbidden_character("a\r\n\tb") is None
    with pytest.raises(TextRefused):
        single_line("Siti\nRahma")


def test_emails_are_checked_without_the_network_and_normalised() -> None:
    assert normalise_email(" Siti@EXAMPLE.id ") == "Siti@example.id"
    for bad in ("siti", "siti@localhost", "siti@example", "a@b@example.id", "siti@example.id\nBcc: x@example.id",
                "siti@x.test", "siti\x00@example.id"):
        with pytest.raises(ContactRefused):
            normalise_email(bad)
    assert usable_email("siti@localhost") is None and usable_email(None) is None


def test_phones_are_e164_personal_lines_of_the_allowed_countries() -> None:
    assert normalise_phone("0812-3456-7890") == normalise_phone("+62 812 3456 7890") == "+6281234567890"
    assert normalise_phone("021 3456789") == "+62213456789"  # a fixed line is a contact too
    for bad in ("+1 900 555 0100", "+44 909 879 0000", "0809 1234 567", "0800 1234567", "12", "abc"):
        with pytest.raises(ContactRefused):
            normalise_phone(bad)
    assert normalise_phone("+65 8123 4567", [62, 65]) == "+6581234567"
    assert usable_phone("+65 8123 4567") is None  # Indonesia only by default


def test_links_built_from_a_request_stay_on_this_site() -> None:
    assert same_site_path("//evil.example") == "/evil.example" and same_site_path("/\\evil") == "/evil"
    assert same_site_path("/kasus/LAP-1") == "/kasus/LAP-1"
    for bad in ("//evil.example", "/\\evil.example", "/\t/evil.example", "/\n/evil.example", "https://evil.example",
                "evil.example"):
        assert safe_next(bad) == "", bad
    assert safe_next("/staf?tab=1") == "/staf?tab=1"


def test_machine_doors_repair_windows_1252_mojibake_and_remove_other_control_characters():
    from domain.text import MachineTextRepairs, repair_machine_text

    repairs = MachineTextRepairs()
    assert repair_machine_text("Pak Budi\x92s jalan \x93rusak\x94\x85 \x1b[0m\x81x\r\ny\x00", repairs) == \
        "Pak Budi’s jalan “rusak”… [0mx\ny"
    assert repairs.restored == {"U+0092": "’", "U+0093": "“", "U+0094": "”", "U+0085": "…"}
    assert repairs.removed == {"U+001B", "U+0081", "U+0000"}
    assert "U+0092 → ’" in repairs.note("Open311") and "U+001B" in repairs.note("Open311")
    untouched = MachineTextRepairs()
    assert repair_machine_text("Jalan rusak\tdi sini\r\n", untouched) == "Jalan rusak\tdi sini\n"
    assert not untouched and untouched.note("SMS") is None
