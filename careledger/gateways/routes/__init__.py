"""Command routers, one per area of the clinic."""
