"""Side effects of the complaint workflow: the read model, routing suggestions, notifications."""

from activities.records import RecordActivities
from activities.routing import RoutingActivities

__all__ = ["RecordActivities", "RoutingActivities"]
