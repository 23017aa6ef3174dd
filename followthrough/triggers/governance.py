"""Governance and safe rollout: who owns a template, how many of its sequences may run, and
which version a new start gets while a new version takes a share of them.

- Quota: `max_active` running sequences per template, counted through Temporal visibility
  (`TemplateName = 'x' AND ExecutionStatus = 'Running'`). Visibility lags, so two starts in
  the same instant can both pass this count; the start pipeline's reservation
  (`followthrough.triggers.reservations`) is the lock that refuses the second. The refusal
  names the quota and the owner, who is the person to ask for more.
- Rollout: `templates rollout NAME --version N --percent P` gives version N the share P of new
  starts. The side a family lands on is a stable hash of (family id, template name), so the
  same family always gets the same version, and raising the share only moves families from
  the old version to the new one, never back. Running sequences keep the version they have.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from contracts import SequenceParams
from followthrough.triggers.errors import QuotaExceeded, TriggerError
from store import Store
from store.rollouts import TemplateRollout

__all__ = [
    "QuotaExceeded",
    "bucket",
    "check_quota",
    "choose_version",
    "count_running",
    "running_query",
]

log = logging.getLogger(__name__)


def bucket(family_id: str, template: str) -> int:
    """The family's place, 0-99, in the template's rollout order; the same on every call."""
    digest = hashlib.sha256(f"{template}\x1f{family_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100


def running_query(template: str, excluding: str | None = None) -> str:
    """The visibility query of a template's running sequences, but `excluding` (a workflow id)."""
    query = f"TemplateName = '{template}' AND ExecutionStatus = 'Running'"
    if excluding is not None:
        if "'" in excluding or "\\" in excluding:
            raise TriggerError(f"family: {excluding!r} cannot be used in a visibility query")
        query += f" AND WorkflowId != '{excluding}'"
    return query


async def count_running(client: Client, template: str) -> int | None:
    """How many sequences of `template` run now; None where visibility cannot count."""
    try:
        return (await client.count_workflows(running_query(template))).count
    except RPCError as err:
        if err.status != RPCStatusCode.UNIMPLEMENTED:
            raise
        return None


async def check_quota(client: Client, params: SequenceParams, workflow_id: str) -> None:
    """Refuse (`QuotaExceeded`) a start that would put the template past its `max_active`.

    The sequence being started does not count itself: if it already runs, the start reports
    "already running" as usual.
    """
    if params.max_active is None:
        return
    try:
        running = await client.count_workflows(running_query(params.name, workflow_id))
    except RPCError as err:
        if err.status != RPCStatusCode.UNIMPLEMENTED:
            raise
        # The time-skipping test server (simulate) has no visibility to count with.
        log.warning("cannot count the running %s sequences: %s", params.name, err.message)
        return
    if running.count >= params.max_active:
        raise QuotaExceeded(
            f"max_active: {params.name} already runs {running.count} sequences, its quota is "
            f"{params.max_active}; start refused (owner: {params.accountable})"
        )


async def choose_version(
    store: Store,
    params: SequenceParams,
    family_id: str,
    *,
    rollouts: Mapping[str, TemplateRollout] | None = None,
) -> tuple[SequenceParams, str | None]:
    """The version a new start of `params.name` gets for this family, and why.

    Without a rollout, `params` as given. With one, the rollout's version for the families
    whose bucket is below its share, and for the others the highest other active version.
    `rollouts`: every rollout in progress, by template, when the caller has read them (a bulk
    run, once per batch); else the template's rollout is read here.
    """
    if rollouts is None:
        rollout = await store.rollouts.get(params.name)
    else:
        rollout = rollouts.get(params.name)
    if rollout is None:
        return params, None
    candidate = await store.templates.get(params.name, rollout.version)
    others = [
        p
        for p in await store.templates.versions(params.name)
        if p.active and p.version != rollout.version
    ]
    place = bucket(family_id, params.name)
    if candidate is not None and (place < rollout.percent or not others):
        return candidate, f"canary v{candidate.version} ({rollout.percent}%, bucket {place})"
    stable = others[-1] if others else params
    return stable, (
        f"stable v{stable.version} (canary v{rollout.version} at {rollout.percent}%, "
        f"bucket {place})"
    )
