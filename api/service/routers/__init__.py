"""Routers of the HTTP service, one per resource."""
