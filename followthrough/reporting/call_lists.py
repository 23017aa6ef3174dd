"""Daily call lists: a coordinator's open call tasks for today, on one list.

A sequence opens its call task at the step's due time, so nothing here delays a call: the
list only gathers what is already due (opened today, or earlier and still open) into one
list per assignee, oldest first, instead of a stream of separate tasks.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from store import CoordinatorTask


@dataclass(frozen=True)
class CallList:
    """One assignee's calls for the day."""

    assign_to: str
    tasks: list[CoordinatorTask]


def daily_call_lists(
    tasks: list[CoordinatorTask], now: datetime, timezone: str = "UTC"
) -> list[CallList]:
    """Open call tasks due by the end of `now`'s local day, grouped per assignee."""
    zone = ZoneInfo(timezone)
    end_of_day = datetime.combine(now.astimezone(zone).date() + timedelta(days=1), time(0), zone)
    grouped: dict[str, list[CoordinatorTask]] = defaultdict(list)
    for task in sorted(tasks, key=lambda t: (t.created_at, t.id)):
        if task.kind == "call" and task.status == "open" and task.created_at < end_of_day:
            grouped[task.assign_to].append(task)
    return [CallList(who, grouped[who]) for who in sorted(grouped)]


def render(lists: list[CallList], now: datetime, timezone: str = "UTC") -> list[str]:
    """The lists as a coordinator reads them: who calls whom, since when, and why."""
    zone = ZoneInfo(timezone)
    today = now.astimezone(zone).date()
    total = sum(len(each.tasks) for each in lists)
    if not total:
        return [f"no calls due on {today:%a %Y-%m-%d} ({timezone})"]
    people = f"{len(lists)} {'person' if len(lists) == 1 else 'people'}"
    out = [f"calls due on {today:%a %Y-%m-%d} ({timezone}): {total} for {people}"]
    for each in lists:
        out.append(f"{each.assign_to} ({len(each.tasks)})")
        for task in each.tasks:
            opened = task.created_at.astimezone(zone)
            since = (
                f"due {opened:%H:%M}"
                if opened.date() == today
                else f"overdue since {opened:%a %d %b %H:%M}"
            )
            out.append(
                f"  #{task.id:<5} family {task.family_id:<8} {since:<28} {task.reason}"
                f"   ({task.workflow_id})"
            )
    return out
