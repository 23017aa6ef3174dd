"""The generic JSON webhook activity: call an external system, classify its answer, audit it.

Only destinations the deployer allows are called (`contracts.webhook_rules`), on the address
that was checked (`activities.destinations`), without following redirects; a header reads
only `WEBHOOK_SECRET_*` variables; and of the answer only the fields the step names are
kept, so nothing else of it reaches the workflow's history.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.destinations import (
    DestinationRefused,
    DestinationUnresolved,
    Pinned,
    Resolver,
    pin,
    resolve,
)
from activities.providers import PROVIDER_UNREACHABLE, diagnosis, retry_after
from activities.rendering import RenderError, render_text
from contracts.webhook_rules import SECRET_PREFIX, WebhookPolicy, secret_problem
from contracts.webhooks import (
    WEBHOOK_CONFIG,
    WEBHOOK_DESTINATION,
    WEBHOOK_REJECTED,
    WEBHOOK_UNAVAILABLE,
    WebhookRequest,
    WebhookResult,
    status_matches,
)
from store import Store
from store.audit import step_for

_ANSWER_LIMIT = 10_000


class WebhookActivities:
    """Webhook steps over the worker's shared httpx client; one audit row per step.

    `policy`: the destinations allowed (`Settings.webhook_policy`); `secrets`: the
    `WEBHOOK_SECRET_*` variables, all that an `env:NAME` header value can read.
    """

    def __init__(
        self,
        store: Store,
        http: httpx.AsyncClient,
        policy: WebhookPolicy,
        secrets: Mapping[str, str],
        resolver: Resolver = resolve,
    ) -> None:
        self._store = store
        self._http = http
        self._policy = policy
        self._secrets = {k: v for k, v in secrets.items() if k.startswith(SECRET_PREFIX)}
        self._resolver = resolver

    @activity.defn
    async def call_webhook(self, request: WebhookRequest) -> WebhookResult:
        """Call the webhook once per step; the step's key goes out as `Idempotency-Key`."""
        ref = request.ref
        done = await self._store.steps.get_by_key(ref.idempotency_key)
        if done is not None:
            return WebhookResult(
                status_code=_status_of(done.outcome),
                external_id=done.provider_message_id,
                duplicate=True,
            )
        variables = await self._variables(request)
        try:
            url = render_text(request.url, variables)
            body = _render_json(request.body, variables)
        except RenderError as err:
            raise ApplicationError(
                f"webhook template cannot be rendered: {err}",
                type=WEBHOOK_CONFIG,
                non_retryable=True,
            ) from err
        headers = {**self._headers(request.headers), "Idempotency-Key": ref.idempotency_key}
        target = await self._pin(url)
        try:
            response = await self._http.request(
                request.method,
                target.url,
                json=body,
                headers={**headers, "Host": target.host_header},
                extensions=target.extensions(),
                follow_redirects=False,  # a redirect could lead anywhere: it is an answer
            )
        except httpx.TransportError as err:
            # The host and the error kind only: the path may carry family data, headers secrets.
            raise ApplicationError(
                f"webhook {request.method} {target.host} unreachable: {type(err).__name__}",
                type=PROVIDER_UNREACHABLE,
            ) from err
        status = response.status_code
        answer = _answer(response)
        external_id = None
        if request.id_field and isinstance(answer, dict) and answer.get(request.id_field):
            external_id = str(answer[request.id_field])[:200]
        if status_matches(status, request.success):
            await self._audit(request, f"http {status}", external_id, None)
            kept = _kept(answer, request.keep)
            return WebhookResult(status_code=status, external_id=external_id, response=kept)
        if status_matches(status, request.transient):
            raise ApplicationError(
                f"webhook answered {status}, will retry",
                type=WEBHOOK_UNAVAILABLE,
                next_retry_delay=retry_after(response),
            )
        await self._audit(request, "failed", None, WEBHOOK_REJECTED, suffix="/failed")
        raise ApplicationError(
            f"webhook refused ({diagnosis(response)})", type=WEBHOOK_REJECTED, non_retryable=True
        )

    async def _pin(self, url: str) -> Pinned:
        """The rendered URL checked again, resolved, and pinned to the address checked."""
        try:
            return await pin(url, self._policy, self._resolver)
        except DestinationRefused as err:
            raise ApplicationError(
                f"webhook destination refused: {err}", type=WEBHOOK_DESTINATION, non_retryable=True
            ) from None
        except DestinationUnresolved as err:
            raise ApplicationError(f"webhook {err}", type=PROVIDER_UNREACHABLE) from None

    async def _variables(self, request: WebhookRequest) -> dict[str, Any]:
        family = await self._store.families.get(request.family_id)
        if family is None:
            raise ApplicationError(
                f"unknown family {request.family_id}", type="UnknownFamily", non_retryable=True
            )
        ref = request.ref
        return {
            **(family.attributes or {}),
            "family_id": family.family_id,
            "family_name": family.name,
            "workflow_id": ref.workflow_id,
            "step_id": ref.step_id,
            "template": ref.template,
            "prediction_id": ref.prediction_id,
            **request.context,
        }

    def _headers(self, headers: dict[str, str]) -> dict[str, str]:
        resolved = {}
        for name, value in headers.items():
            if value.startswith("env:"):
                variable = value[4:]
                refused = secret_problem(value)
                if refused is None and variable not in self._secrets:
                    refused = f"{variable} is not set"
                if refused is not None:
                    raise ApplicationError(
                        f"webhook header {name}: {refused}", type=WEBHOOK_CONFIG, non_retryable=True
                    )
                value = self._secrets[variable]
            resolved[name] = value
        return resolved

    async def _audit(
        self,
        request: WebhookRequest,
        outcome: str,
        external_id: str | None,
        error_type: str | None,
        suffix: str = "",
    ) -> None:
        ref = request.ref
        await self._store.steps.add(
            step_for(
                ref,
                key=ref.idempotency_key + suffix,
                family_id=request.family_id,
                kind="webhook",
                provider_message_id=external_id,
                outcome=outcome,
                attempts=activity.info().attempt,
                error_type=error_type,
            )
        )


def _render_json(value: Any, variables: dict[str, Any]) -> Any:
    # Only string leaves are templates: a value can never break out of its JSON string.
    if isinstance(value, str):
        return render_text(value, variables)
    if isinstance(value, list):
        return [_render_json(item, variables) for item in value]
    if isinstance(value, dict):
        return {key: _render_json(item, variables) for key, item in value.items()}
    return value


def _answer(response: httpx.Response) -> Any:
    if len(response.content) > _ANSWER_LIMIT:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _kept(answer: Any, fields: list[str]) -> dict[str, Any] | None:
    """Only the top-level fields the step names; the rest never reaches the history."""
    if not fields or not isinstance(answer, dict):
        return None
    return {name: answer[name] for name in fields if name in answer}


def _status_of(outcome: str) -> int:
    _, _, number = outcome.partition(" ")
    return int(number) if number.isdigit() else 0
