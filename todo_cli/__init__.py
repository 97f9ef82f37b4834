"""The `todo` command and the local stack (`todo dev`).

They compose the library (`todo`), the functions (`functions`) and the websocket service
(`realtime`), so they live above all three; the library never imports them.
"""
