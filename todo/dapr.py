"""Publishing through the Dapr sidecar's HTTP API.

Plain HTTP through httpx, not the dapr SDK: the SDK's gRPC import costs a cold start
about a quarter of a second, and the sidecar's HTTP API is all a function needs.
Each event goes as our own CloudEvent (`application/cloudevents+json`), so Dapr keeps its
id, type, source and extensions, with the owner's id as the partition key.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING
from uuid import UUID

from todo.events import Event
from todo.settings import Settings

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

CLOUDEVENTS_JSON = "application/cloudevents+json"


class DaprPublishError(RuntimeError):
    pass


class DaprPublisher:
    def __init__(
        self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        if not settings.dapr_url:
            raise ValueError("DaprPublisher needs DAPR_HTTP_ENDPOINT or DAPR_HTTP_PORT")
        self._base = settings.dapr_url
        self._pubsub = settings.pubsub_name
        self._timeout = settings.publish_timeout_seconds
        self._headers = (
            {"dapr-api-token": settings.dapr_api_token} if settings.dapr_api_token else {}
        )
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            # Imported on first publish, off the import path: httpx costs a cold start ~70 ms.
            import httpx

            self._client = httpx.AsyncClient(
                base_url=self._base,
                headers=self._headers,
                timeout=httpx.Timeout(self._timeout, connect=min(self._timeout, 1.0)),
                transport=self._transport,
                # The sidecar is on localhost over plain HTTP: skip loading CA certificates
                # (~30 ms) unless the endpoint is https.
                verify=self._base.startswith("https://"),
            )
        return self._client

    def publish_url(self, topic: str) -> str:
        return f"/v1.0/publish/{self._pubsub}/{topic}"

    def bulk_publish_url(self, topic: str) -> str:
        return f"/v1.0-alpha1/publish/bulk/{self._pubsub}/{topic}"

    async def publish(self, events: Sequence[Event]) -> Sequence[UUID]:
        """Publish one by one, in order; stop at the first failure to keep per-user order."""
        taken: list[UUID] = []
        for event in events:
            try:
                await self._publish_one(event)
            except Exception as exc:
                log.warning(
                    "publish to dapr failed",
                    extra={"event_id": str(event.id), "topic": event.topic, "error": str(exc)},
                )
                break
            taken.append(event.id)
        return taken

    async def _publish_one(self, event: Event) -> None:
        response = await self.client.post(
            self.publish_url(event.topic),
            params={"metadata.partitionKey": str(event.user_id)},
            content=json.dumps(event.to_cloudevent(), separators=(",", ":")),
            headers={"content-type": CLOUDEVENTS_JSON},
        )
        if not response.is_success:
            raise DaprPublishError(f"dapr answered {response.status_code}: {response.text[:200]}")

    async def relay(self, events: Sequence[Event]) -> Sequence[UUID]:
        """One bulk publish per topic. Dapr answers 204 when it took every entry, or 500 with
        the entries it did not take; the rest count as taken."""
        by_topic: dict[str, list[Event]] = {}
        for event in events:
            by_topic.setdefault(event.topic, []).append(event)
        taken: list[UUID] = []
        for topic, batch in by_topic.items():
            try:
                failed = await self._publish_bulk(topic, batch)
            except Exception as exc:
                log.warning(
                    "bulk publish to dapr failed", extra={"topic": topic, "error": str(exc)}
                )
                continue
            taken += [e.id for e in batch if str(e.id) not in failed]
        return taken

    async def _publish_bulk(self, topic: str, batch: Sequence[Event]) -> set[str]:
        """The entry ids Dapr did not take; raises when it took none."""
        entries = [
            {
                "entryId": str(event.id),
                "event": event.to_cloudevent(),
                "contentType": CLOUDEVENTS_JSON,
                "metadata": {"partitionKey": str(event.user_id)},
            }
            for event in batch
        ]
        response = await self.client.post(
            self.bulk_publish_url(topic),
            content=json.dumps(entries, separators=(",", ":")),
            headers={"content-type": "application/json"},
        )
        if response.is_success:
            return set()
        if response.status_code == 500:
            try:
                failed = response.json()["failedEntries"]
                return {str(entry["entryId"]) for entry in failed}
            except (ValueError, KeyError, TypeError):
                pass
        raise DaprPublishError(f"dapr answered {response.status_code}: {response.text[:200]}")

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()
