"""Whole-template checks of a step list: the jumps, messages and roles it names, that every
step is reachable, and that no loop runs without a wait in it."""

from __future__ import annotations

from collections.abc import Mapping

import contracts.channels as channels
from contracts.events import problem
from contracts.policies import Channel
from contracts.steps import END, TEMPLATE_WORKFLOW, Step


def check_template(
    steps: list[Step] | None,
    *,
    workflow: str,
    messages: set[str],
    approver_roles: list[str],
    fallbacks: Mapping[Channel, Channel | None] | None = None,
) -> None:
    """Whole-template checks: jump targets, messages, roles, fallback chains, reachability,
    busy cycles."""
    if steps is None:
        if workflow == TEMPLATE_WORKFLOW:
            raise problem(f"steps: the {TEMPLATE_WORKFLOW} workflow needs a list of steps")
        return
    if workflow != TEMPLATE_WORKFLOW:
        raise problem(
            f"workflow: a template with steps runs on {TEMPLATE_WORKFLOW}, not {workflow}"
        )
    by_id: dict[str, Step] = {}
    for step in steps:
        if step.id in by_id:
            raise problem(f"step '{step.id}': id: used by two steps")
        by_id[step.id] = step
    for step in steps:
        where = f"step '{step.id}'"
        for field_name, target in step.jumps():
            if target != END and target not in by_id:
                raise problem(f"{where}: {field_name}: no step with id {target!r}")
        if step.template is not None and step.template not in messages:
            known = ", ".join(sorted(messages)) or "none defined"
            raise problem(f"{where}: template: no message {step.template!r} in messages ({known})")
        check_fallback(step, fallbacks or {})
        for role in step.roles or []:
            if role not in approver_roles:
                raise problem(
                    f"{where}: roles: {role!r} is not one of the template's approver_roles"
                )
    unreachable = [s.id for s in steps if s.id not in _reachable(steps)]
    if unreachable:
        raise problem(
            f"step '{unreachable[0]}': unreachable: no step leads to it "
            "(add a jump with next/then/else, or remove it)"
        )
    cycle = _busy_cycle(steps, by_id)
    if cycle:
        path = " → ".join([*cycle, cycle[0]])
        raise problem(
            f"step '{cycle[0]}': next: the steps {path} loop with no wait in between "
            "(add a wait step or a delay)"
        )


def check_fallback(step: Step, overrides: Mapping[Channel, Channel | None]) -> None:
    """A channel fallback goes to another channel and its chain never comes back."""
    target = channels.find(step.fallback)
    own = step.channel
    if target is None or own is None:
        return
    chain = channels.fallback_chain(target.channel, overrides, after=own.channel)
    if channels.loops(chain):
        path = " → ".join(c.value for c in chain)
        raise problem(
            f"step '{step.id}': fallback: {path} loops; fall back to a channel not already "
            "tried (or end the chain in `fallbacks`)"
        )


def check_fallbacks(overrides: Mapping[Channel, Channel | None]) -> None:
    """The template's `fallbacks`: no channel falls back to one that leads back to it."""
    for channel in overrides:
        chain = channels.fallback_chain(channel, overrides)
        if channels.loops(chain):
            path = " → ".join(c.value for c in chain)
            raise problem(f"fallbacks.{channel.value}: {path} loops; end the chain with null")


def successors(steps: list[Step], index: int) -> list[str]:
    """Where step `index` can go: its jumps, else the step after it (`end` when last)."""
    step = steps[index]
    if step.type == "end":
        return []
    following = steps[index + 1].id if index + 1 < len(steps) else END
    if step.type == "condition":
        return [t for t in (step.then, step.else_) if t is not None]
    targets = [step.next if step.next is not None else following]
    if step.fallback is not None and channels.find(step.fallback) is None:
        targets.append(step.fallback)
    return targets


def _graph(steps: list[Step]) -> dict[str, list[str]]:
    return {s.id: [t for t in successors(steps, i) if t != END] for i, s in enumerate(steps)}


def _reachable(steps: list[Step]) -> set[str]:
    graph = _graph(steps)
    seen, todo = {steps[0].id}, [steps[0].id]
    while todo:
        for target in graph[todo.pop()]:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def _busy_cycle(steps: list[Step], by_id: dict[str, Step]) -> list[str] | None:
    """A cycle made only of steps that take no time, if any (depth-first search)."""
    graph = {
        node: [t for t in targets if not by_id[t].waits]
        for node, targets in _graph(steps).items()
        if not by_id[node].waits
    }
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in graph[node]:
            if state.get(target) == 1:
                return stack[stack.index(target) :]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in graph:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None
