"""Tables of notification delivery (issue 5): registered on db.models.Base."""

from __future__ import annotations
