"""The always-on websocket service that keeps every client of a user in sync."""
