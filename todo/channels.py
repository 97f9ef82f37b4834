"""Where a notification goes besides the in-app list: email and push.

Each channel is an interface with a logged no-op for now. They run after the
notification has committed and never fail it.
"""

from __future__ import annotations

import logging
from typing import Protocol

from todo.notification_models import Notification

log = logging.getLogger(__name__)


class Channel(Protocol):
    name: str

    async def send(self, user_id: str, notification: Notification) -> None: ...


class LoggedChannel:
    """Logs what it would send."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def send(self, user_id: str, notification: Notification) -> None:
        log.info(
            "notification not sent: channel not configured",
            extra={
                "channel": self.name,
                "user_id": user_id,
                "notification_id": str(notification.id),
            },
        )


CHANNELS: list[Channel] = [LoggedChannel("email"), LoggedChannel("push")]
