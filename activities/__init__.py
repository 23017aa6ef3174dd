"""Every side effect: channels, coordinator tasks, reads of the family's current data."""

from activities.channels import ChannelActivities
from activities.families import FamilyActivities
from activities.tasks import TaskActivities

__all__ = ["ChannelActivities", "FamilyActivities", "TaskActivities"]
