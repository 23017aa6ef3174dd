"""A starter process for the limit races (`tests/test_faults_limits.py`): it triggers every
(template, family) pair it is given at once, through the real start pipeline, and prints one
JSON line per start: `{"workflow_id": ..., "status": ...}`.

    python -m tests.limit_race TEMPORAL_ADDRESS DATABASE_URL TASK_QUEUE template:family ...
"""

from __future__ import annotations

import asyncio
import json
import sys

from followthrough.platform.connection import connect
from followthrough.platform.settings import Settings
from followthrough.triggers.errors import TriggerError
from followthrough.triggers.start import trigger
from store import Store


async def main(address: str, url: str, queue: str, pairs: list[str]) -> None:
    client = await connect(Settings(temporal_address=address))
    async with Store.from_url(url) as store:

        async def one(pair: str) -> dict[str, str]:
            template, family = pair.split(":")
            try:
                outcome = await trigger(client, store, template, family, task_queue=queue)
            except TriggerError as err:
                return {"pair": pair, "status": "refused", "message": str(err)}
            return {
                "pair": pair,
                "status": outcome.status,
                "workflow_id": outcome.workflow_id or "",
            }

        for line in await asyncio.gather(*(one(pair) for pair in pairs)):
            print(json.dumps(line), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]))
