"""What a case page and the queue say of a case forwarded into its body's own system (issue 27)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.connected_models import ConnectedForward
from db.models import Agency
from domain.connected import REQUEST, forwarded_label
from domain.visibility import CaseView


def add_forwarding(session: Session, views: list[CaseView], language: str = "id") -> None:
    """Set `forwarded_to` on the views of cases whose body has them in its system (the latest
    request to the body that holds the case now)."""
    wanted = {view.tracking_id: view for view in views if view.agency_id}
    if not wanted:
        return
    rows = session.execute(
        select(ConnectedForward.tracking_id, ConnectedForward.agency_id, ConnectedForward.service_request_id,
               Agency.name)
        .join(Agency, Agency.id == ConnectedForward.agency_id)
        .where(ConnectedForward.tracking_id.in_(list(wanted)), ConnectedForward.kind == REQUEST)
        .order_by(ConnectedForward.event_seq)
    ).all()
    for tracking_id, agency_id, remote_id, name in rows:  # the latest wins
        view = wanted[tracking_id]
        if agency_id == view.agency_id:
            view.forwarded_to, view.forwarded_to_body = forwarded_label(name, remote_id, language), name
