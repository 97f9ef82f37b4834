"""Publishing through the Dapr sidecar's HTTP API.

Plain HTTP through httpx, not the dapr SDK: the SDK's gRPC import costs a cold start
about a quarter of a second, and the sidecar's HTTP API is all a function needs.
Events go in bulk (see `DaprPublisher.publish` for how a user's order is kept), each as
our own CloudEvent (`application/cloudevents+json`), so Dapr keeps its
id, type, source and extensions, with the owner's id as the partition key.
"""

from __future__ import annotations

import asyncio
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


class DaprPublisher:
    relays_untaken = True  # an entry the sidecar refused may go on a later try

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

    def bulk_publish_url(self, topic: str) -> str:
        return f"/v1.0-alpha1/publish/bulk/{self._pubsub}/{topic}"

    async def publish(self, events: Sequence[Event]) -> Sequence[UUID]:
        """Publish in rounds holding at most one event per user, each round one bulk
        request per topic (sent side by side), round after round; a user whose event
        failed has nothing more sent in this call.

        Why at most one per user: Dapr's bulk API keeps no order among the entries of one
        request. Without a native bulk publisher (Redis streams) daprd's default one
        publishes every entry from its own goroutine, up to 100 at once
        (dapr/dapr pkg/runtime/pubsub/default_bulkpub.go: "There is no guarantee that
        messages sent to the broker are in the same order as specified in the request");
        Kafka's hands the entries to sarama's SendMessages in order, but may fail some and
        not others, and its docs promise no order either. Between rounds, each request has
        been answered before the next round goes out, so a user's events reach the broker
        in sequence order.
        """
        taken: list[UUID] = []
        failed_users: set[UUID] = set()
        for round_ in one_per_user(events):
            by_topic: dict[str, list[Event]] = {}
            for event in round_:
                if event.user_id not in failed_users:
                    by_topic.setdefault(event.topic, []).append(event)
            answers = await asyncio.gather(
                *(self._publish_bulk(topic, batch) for topic, batch in by_topic.items())
            )
            for batch, failed in zip(by_topic.values(), answers, strict=True):
                for event in batch:
                    if str(event.id) in failed:
                        failed_users.add(event.user_id)
                    else:
                        taken.append(event.id)
        return taken

    async def _publish_bulk(self, topic: str, batch: Sequence[Event]) -> set[str]:
        """The entry ids Dapr did not take (all of them when the request failed).

        Dapr answers 204 when it took every entry, or 500 with the entries it did not take.
        """
        import httpx

        entries = [
            {
                "entryId": str(event.id),
                "event": event.to_cloudevent(),
                "contentType": CLOUDEVENTS_JSON,
                "metadata": {"partitionKey": str(event.user_id)},
            }
            for event in batch
        ]
        every = {str(event.id) for event in batch}
        try:
            response = await self.client.post(
                self.bulk_publish_url(topic),
                content=json.dumps(entries, separators=(",", ":")),
                headers={"content-type": "application/json"},
            )
        except httpx.TimeoutException:
            log.warning(
                "bulk publish to dapr timed out",
                extra={"topic": topic, "events": len(batch), "timeout_seconds": self._timeout},
            )
            return every
        except httpx.HTTPError as exc:
            log.warning(
                "bulk publish to dapr failed",
                extra={"topic": topic, "events": len(batch), "error": repr(exc)},
            )
            return every
        if response.is_success:
            return set()
        if response.status_code == 500:
            try:
                return {str(entry["entryId"]) for entry in response.json()["failedEntries"]}
            except (ValueError, KeyError, TypeError):
                pass
        log.warning(
            "bulk publish to dapr refused",
            extra={
                "topic": topic,
                "events": len(batch),
                "status": response.status_code,
                "error": response.text[:200],
            },
        )
        return every

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()


def one_per_user(events: Sequence[Event]) -> list[list[Event]]:
    """Rounds of the events where the n-th round holds each user's n-th event."""
    rounds: list[list[Event]] = []
    depth: dict[UUID, int] = {}
    for event in events:
        n = depth.get(event.user_id, 0)
        depth[event.user_id] = n + 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(event)
    return rounds
