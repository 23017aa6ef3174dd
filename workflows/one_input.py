"""A signal sent with several inputs reaches its handler as one refusal, not a stuck sequence.

`temporal workflow signal --input A --input B` sends two payloads. Every sequence's signal
takes one input, so the SDK would call the handler with two arguments, the call would raise,
and the workflow task would fail again on every retry: the sequence stuck until a new
deployment. This worker interceptor hands the handler a `SeveralInputs` instead, which it
refuses with one line like any other wrong input.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from temporalio.worker import (
    HandleSignalInput,
    Interceptor,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)


@dataclasses.dataclass(frozen=True)
class SeveralInputs:
    """The inputs of a signal that was sent more than one (as JSON values)."""

    values: tuple[Any, ...]


class OneInputPerSignal(Interceptor):
    """Give the worker's sequences a signal with several inputs as one `SeveralInputs`."""

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor]:
        return _Inbound


class _Inbound(WorkflowInboundInterceptor):
    async def handle_signal(self, input: HandleSignalInput) -> None:
        if len(input.args) > 1:
            input = dataclasses.replace(input, args=[SeveralInputs(tuple(input.args))])
        await self.next.handle_signal(input)
