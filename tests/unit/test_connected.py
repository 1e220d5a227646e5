"""Connected bodies' pure rules (domain/connected.py, domain/sealed.py): what an update of the
body's system means for our case, what we send, and the sealed api_key."""

from __future__ import annotations

import pytest

from domain.connected import CaseForForwarding, Meaning, action_for, meaning_of, request_form
from domain.enums import Action, Status
from domain.sealed import SealBroken, seal, unseal
from domain.tokens import SecretKeyring


@pytest.mark.parametrize(("status", "description", "meaning"), [
    ("open", "Petugas sudah ke lokasi.", Meaning.FOLLOW_UP),  # GeoReport's plain comment
    ("open", "", None),
    ("closed", None, Meaning.FOLLOW_UP),
    ("FIXED", "Sudah diperbaiki.", Meaning.FOLLOW_UP),
    ("ACTION_SCHEDULED", "Dijadwalkan Senin.", Meaning.FOLLOW_UP),
    ("action scheduled", "Dijadwalkan Senin.", Meaning.FOLLOW_UP),  # FixMyStreet's spelling
    ("NOT_COUNCILS_RESPONSIBILITY", "Jalan nasional.", Meaning.REROUTE),
    ("IN_PROGRESS", "Diterima dinas.", Meaning.PROGRESS),
    ("INVESTIGATING", None, Meaning.PROGRESS),
    ("INTERNAL_REFERRAL", "Dialihkan ke bidang lain.", Meaning.PROGRESS),
    ("SOMETHING_NEW", "?", Meaning.PROGRESS),  # unknown: shown, never a transition
])
def test_what_an_update_means(status: str, description: str | None, meaning: Meaning | None) -> None:
    assert meaning_of(status, description) == meaning


def test_an_update_acts_only_while_the_case_waits_for_the_body() -> None:
    assert action_for(Meaning.FOLLOW_UP, Status.AWAITING_AGENCY) == Action.FOLLOW_UP
    assert action_for(Meaning.REROUTE, Status.AWAITING_AGENCY) == Action.REROUTE
    assert action_for(Meaning.PROGRESS, Status.AWAITING_AGENCY) is None
    for status in (Status.AWAITING_REPORTER, Status.COMPLETED, Status.AWAITING_VERIFICATION):
        assert action_for(Meaning.FOLLOW_UP, status) is None


def case(anonymous: bool) -> CaseForForwarding:
    return CaseForForwarding(
        tracking_id="LAP-1", title="Lampu padam", description="Lampu jalan padam sebulan.", category="penerangan-jalan",
        report_type="pengaduan", anonymous=anonymous, confidential=False, lat=-2.2, lon=113.9, address="Jl. A",
        region_code="62.71", reporter_name="Siti Aminah", reporter_email="siti@example.id", reporter_phone="+62812",
    )


def test_an_anonymous_reporters_identity_and_pin_never_leave() -> None:
    sent = dict(request_form(case(anonymous=True), service_code="pju", jurisdiction_id=None, media_urls=["https://x/m"]))
    assert not {"email", "phone", "first_name", "last_name", "lat", "long"} & set(sent)
    assert sent["address_string"] == "Jl. A" and sent["attribute[region]"] == "62.71"
    named = dict(request_form(case(anonymous=False), service_code="pju", jurisdiction_id="pky", media_urls=[]))
    assert (named["first_name"], named["last_name"], named["email"]) == ("Siti", "Aminah", "siti@example.id")
    assert named["jurisdiction_id"] == "pky" and named["lat"] == "-2.200000"


def test_a_sealed_key_opens_only_for_its_row_and_under_a_held_key() -> None:
    ring = SecretKeyring("2", {"1": "old-secret-" * 4, "2": "new-secret-" * 4})
    sealed = seal(ring, "connected-api-key", "pemkot-62.71", "city-key")
    assert "city-key" not in sealed and sealed.startswith("2.")
    assert unseal(ring, "connected-api-key", "pemkot-62.71", sealed) == "city-key"
    with pytest.raises(SealBroken):
        unseal(ring, "connected-api-key", "pemkot-11.71", sealed)  # copied to another body's row
    with pytest.raises(SealBroken):
        unseal(SecretKeyring("1", {"1": "old-secret-" * 4}), "connected-api-key", "pemkot-62.71", sealed)
    rotated = SecretKeyring("3", {"2": "new-secret-" * 4, "3": "newer-secret-" * 4})
    assert unseal(rotated, "connected-api-key", "pemkot-62.71", sealed) == "city-key"  # a retired key still opens
