"""The limiters' shared state (issue 13): registered on db.models.Base.

One row per counted thing (a client's submissions this minute, an account's failed sign-ins from
one address, ...), keyed by a keyed digest of what it counts (no address or e-mail in clear), so
that every API process counts the same (api/throttle.py).
"""

from __future__ import annotations

from sqlalchemy import Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from db.models import Base


class ThrottleCounter(Base):
    __tablename__ = "throttle_counters"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, nullable=False)
    # Seconds since the epoch: when the current window (or run of failures) began, the last event.
    window_start: Mapped[float] = mapped_column(Float, nullable=False)
    last_at: Mapped[float] = mapped_column(Float, nullable=False, index=True)
