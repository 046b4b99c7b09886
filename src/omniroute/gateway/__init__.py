"""The agent gateway: HTTP + WebSocket API for agent apps, and the browser console."""
