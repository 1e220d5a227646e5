"""A case Temporal no longer has (retention over) is still read from the read model, the same way.

The time-skipping server cannot delete a workflow, so the case is copied in the read model under
a tracking id Temporal never saw: GET then has only the read model to go on.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from db.models import Complaint, TimelineEventRow
from tests.api.conftest import WIB_AGENCY, ApiHarness, assert_problem
from tests.api.deadlines import instant

IDENTITY = {"name": "Siti Rahma", "email": "siti@example.id", "phone": "+6281234567890"}
FORGOTTEN = "LAP-FORGOTTEN0"


def copy_case(api: ApiHarness, tracking_id: str, new_id: str) -> None:
    with api.sessions.begin() as session:
        row = session.get(Complaint, tracking_id)
        values = {c.key: getattr(row, c.key) for c in Complaint.__table__.columns} | {"tracking_id": new_id}
        session.add(Complaint(**values))
        for event in session.scalars(select(TimelineEventRow).where(TimelineEventRow.tracking_id == tracking_id)):
            columns = {c.key: getattr(event, c.key) for c in TimelineEventRow.__table__.columns}
            columns.pop("id", None)
            session.add(TimelineEventRow(**(columns | {"tracking_id": new_id})))


def comparable(case: dict[str, Any]) -> dict[str, Any]:
    """A view without the tracking id, instants compared as instants in the timeline."""
    timeline = [
        {k: (instant(v) if k in ("at", "deadline_set", "deadline_met") and v else v) for k, v in e.items()}
        for e in case.get("timeline", [])
    ]
    return {k: v for k, v in case.items() if k not in ("tracking_id", "timeline", "escalations", "suggestions", "notifications")} | {
        "timeline": timeline
    }


async def test_get_falls_back_to_the_read_model_with_the_same_view(api: ApiHarness) -> None:
    receipt = await api.submit(region_code="63.71", anonymous=True, reporter=IDENTITY)
    tracking_id = receipt["tracking_id"]
    await api.accept(tracking_id, "pemkot-63.71")
    await api.follow_up(tracking_id, "pemkot-63.71")
    await api.settle()
    await api.eventually(lambda: api.listed_ids(status="awaiting_reporter"), lambda ids: tracking_id in ids)
    copy_case(api, tracking_id, FORGOTTEN)

    officer = await api.headers("officer", "pemkot-63.71")
    for who, headers in (("admin", api.admin), ("public", {}), ("officer", officer)):
        live = (await api.get(tracking_id, headers)).json()
        response = await api.get(FORGOTTEN, headers)
        assert response.status_code == 200, (who, response.text)
        remembered = response.json()
        assert comparable(remembered) == comparable(live), who
        assert remembered["deadlines"]["silence_ends"].endswith("T23:59:59+08:00")
    assert "reporter" not in (await api.get(FORGOTTEN, officer)).json()
    assert (await api.get(FORGOTTEN, api.admin)).json()["reporter"] == IDENTITY
    # Other agencies still do not see it; an action on it is a conflict (nothing can change it now).
    assert_problem(await api.get(FORGOTTEN, await api.headers("officer", WIB_AGENCY)), 404)
    assert_problem(await api.act(FORGOTTEN, "follow-ups", {"message": "x"}, officer), 409)
