"""The live streams: server-sent events of what changed in the views (hub.py, view.py)."""
