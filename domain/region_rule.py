"""The region rule (ARCHITECTURE.md §5): which bodies may be proposed for a case of a known region.

One rule for every door that proposes a body: submission suggestions, the suggestions after a
return ("not our authority"), the portal's "or another body" search and automatic forwarding.

- A national body (ministry, agency, state company, university, mission) may always be proposed.
- A regional government (province, regency, city) may be proposed when its region holds the
  case's region or lies inside it (the province of a city's case; a regency of a province's case),
  or when the text names its region as the place (a named regency also admits its province).
- After the region's own government declined, the next door is the province's government, then
  the national bodies with an office or branch in the region (`has_office_in`).

Region codes are Kemendagri codes: "62" province, "62.71" regency/city, "62.71.01" district.
Pure: the caller finds the places a text names (domain/regions.py, Gazetteer).
"""

from __future__ import annotations

from collections.abc import Iterable

# A national body's vertical offices (instansi vertikal): one in every regency/city, or in every
# province (a Kanwil, Perwakilan or Balai), as db/seed/national.json `offices` says.
OFFICES_IN_EVERY_REGENCY = "regency"
OFFICES_IN_EVERY_PROVINCE = "province"


def regency_of(code: str) -> str:
    """"62.71" for "62.71.01"; a province code stays as it is."""
    return ".".join(code.split(".")[:2])


def province_of(code: str) -> str:
    return code.split(".")[0]


def contains(outer: str, inner: str) -> bool:
    """True when region `outer` is `inner` or holds it ("62" holds "62.71" and "62.71.01")."""
    return inner == outer or inner.startswith(outer + ".")


def in_region(body_region: str, case_region: str) -> bool:
    """A regional body of `body_region` governs the case's region or a part of it."""
    case_region = regency_of(case_region)
    return contains(body_region, case_region) or contains(case_region, body_region)


def may_propose(
    *,
    regional: bool,
    body_region: str | None,
    case_region: str | None,
    named_regions: Iterable[str] = (),
) -> bool:
    """May this body be proposed for a case of `case_region` whose text names `named_regions`?"""
    if not regional or not case_region or not body_region:
        return True
    if in_region(body_region, case_region):
        return True
    return any(contains(body_region, regency_of(named)) for named in named_regions)


def has_office_in(
    *, offices: str | None, office_regions: Iterable[str] = (), case_region: str | None
) -> bool:
    """A national body with an office or branch in the case's region: vertical offices in every
    regency or province, or one of its own offices (`office_regions`) in or over that region."""
    if not case_region:
        return False
    if offices in (OFFICES_IN_EVERY_REGENCY, OFFICES_IN_EVERY_PROVINCE):
        return True
    return any(in_region(region, case_region) for region in office_regions)


def after_return_order(case_region: str, declined: Iterable[str]) -> list[str]:
    """The regional governments to offer next, by region code, once the governments of `declined`
    regions said "not our authority": the region's own (regency or city), then its province."""
    declined = set(declined)
    order = [regency_of(case_region), province_of(case_region)]
    return [code for n, code in enumerate(order) if code not in declined and code not in order[:n]]
