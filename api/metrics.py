"""The read model's gauges on the API's /metrics: open cases by status, overdue open cases by agency,
deliveries needing an administrator. The counters and histograms are telemetry/metrics.py's."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from collections.abc import Callable, Iterable

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.read_model import IS_OPEN_OVERDUE
from db.connected_models import ConnectedBody, ConnectedForward
from db.models import Complaint
from db.notification_models import DeliveryStatus, NotificationDelivery
from domain.connected import FAILED, PENDING, SENT, sync_lag_seconds
from domain.enums import OPEN_STATUSES


class ReadModelGauges(Collector):
    """Gauges computed from the read model on scrape, cached for `ttl_seconds` (a scrape by each
    Prometheus of each replica costs at most three GROUP BY queries per period)."""

    def __init__(self, sessions: sessionmaker[Session], ttl_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._sessions, self._ttl, self._clock = sessions, ttl_seconds, clock
        self._lock = threading.Lock()
        self._cached: tuple[float, list[Metric]] | None = None

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            now = self._clock()
            if self._cached is None or now - self._cached[0] >= self._ttl:
                try:
                    self._cached = (now, self._read())
                except Exception:  # noqa: BLE001 - the database is down: say so, keep the rest of /metrics
                    up = GaugeMetricFamily("sp4n_read_model_up", "1 when the read-model gauges could be read")
                    up.add_metric([], 0)
                    return [up]
            return self._cached[1]

    def _read(self) -> list[Metric]:
        with self._sessions() as session:
            by_status = dict(session.execute(
                select(Complaint.status, func.count())
                .where(Complaint.status.in_([s.value for s in OPEN_STATUSES])).group_by(Complaint.status)
            ).all())
            overdue = [(agency or "", count) for agency, count in session.execute(
                select(Complaint.agency_id, func.count()).where(IS_OPEN_OVERDUE).group_by(Complaint.agency_id)
            ).all()]
            troubled = session.execute(
                select(NotificationDelivery.status, NotificationDelivery.channel, func.count())
                .where(NotificationDelivery.status.in_([DeliveryStatus.FAILED.value, DeliveryStatus.UNCERTAIN.value]))
                .group_by(NotificationDelivery.status, NotificationDelivery.channel)
            ).all()
            bodies = session.execute(select(
                ConnectedBody.agency_id, ConnectedBody.last_sync_ok_at, ConnectedBody.created_at,
                ConnectedBody.consecutive_failures).where(ConnectedBody.active.is_(True))).all()
            open_forwards = dict(session.execute(
                select(ConnectedForward.agency_id, func.count())
                .where(ConnectedForward.status.in_([PENDING, SENT, FAILED])).group_by(ConnectedForward.agency_id)
            ).all())
        open_cases = GaugeMetricFamily("sp4n_open_cases", "Open cases in the read model, by status", labels=["status"])
        for status in OPEN_STATUSES:
            open_cases.add_metric([status.value], by_status.get(status.value, 0))
        overdue_cases = GaugeMetricFamily(
            "sp4n_overdue_cases", "Open overdue cases by agency ('' while no agency holds the case)",
            labels=["agency"])
        overdue_by_agency = {"": 0} | dict(overdue)  # the unassigned series always exists
        for agency, count in sorted(overdue_by_agency.items()):
            overdue_cases.add_metric([agency], count)
        deliveries = GaugeMetricFamily(
            "sp4n_deliveries_needing_attention", "Deliveries dead-lettered (failed) or maybe sent (uncertain), "
            "waiting for an administrator", labels=["status", "channel"])
        seen = {(status, channel): count for status, channel, count in troubled}
        for status in (DeliveryStatus.FAILED.value, DeliveryStatus.UNCERTAIN.value):
            for channel in {c for s, c in seen if s == status} | {"email"}:
                deliveries.add_metric([status, channel], seen.get((status, channel), 0))
        up = GaugeMetricFamily("sp4n_read_model_up", "1 when the read-model gauges could be read")
        up.add_metric([], 1)
        return [open_cases, overdue_cases, deliveries, *connected_gauges(bodies, open_forwards), up]


def connected_gauges(bodies, open_forwards: dict[str, int]) -> list[Metric]:
    """Per connected body (issue 27): the age of its last successful sync, its failed syncs in a
    row, and the forwards it has not acknowledged (an alert on any of them rising names the body)."""
    now = datetime.now(timezone.utc)
    lag = GaugeMetricFamily("sp4n_connected_sync_age_seconds",
                            "Seconds since a connected body's updates were last read successfully", labels=["agency"])
    failing = GaugeMetricFamily("sp4n_connected_sync_failures_in_a_row",
                                "Failed reads of a connected body's updates since the last success", labels=["agency"])
    pending = GaugeMetricFamily("sp4n_connected_pending_forwards",
                                "Forwards a connected body's system has not acknowledged (pending, sent, failed)",
                                labels=["agency"])
    ages, in_a_row = [0.0], [0]
    for agency_id, last_ok, created, failures in bodies:
        ages.append(sync_lag_seconds(now, last_ok, created))
        in_a_row.append(failures)
        lag.add_metric([agency_id], ages[-1])
        failing.add_metric([agency_id], failures)
        pending.add_metric([agency_id], open_forwards.get(agency_id, 0))
    # agency="": every body together (the worst age and run of failures, all pending forwards),
    # present even before a body is connected, as the alerts and the dashboard expect a series.
    lag.add_metric([""], max(ages))
    failing.add_metric([""], max(in_a_row))
    pending.add_metric([""], sum(open_forwards.values()))
    return [lag, failing, pending]
