"""`python -m realtime`: serve the websocket service as deployed (port from $PORT).

permessage-deflate is off: its compressor and decompressor take about 44 KB per
connection (measured with tracemalloc), while the messages are small JSON. The
sans-I/O websockets protocol is the lightest of uvicorn's websocket implementations.
"""

from __future__ import annotations

import os
from typing import Any

import uvicorn

WEBSOCKET_OPTIONS: dict[str, Any] = {"ws": "websockets-sansio", "ws_per_message_deflate": False}


def main() -> None:
    uvicorn.run(
        "realtime.app:app",
        host=os.environ.get("HOST", "0.0.0.0"),
        port=int(os.environ.get("PORT", "8080")),
        proxy_headers=True,
        log_config=None,
        access_log=False,
        ws_ping_interval=20.0,  # protocol pings keep idle sockets alive through proxies
        timeout_graceful_shutdown=10,
        **WEBSOCKET_OPTIONS,
    )


if __name__ == "__main__":
    main()
