"""The HTTP service (drg serve): FastAPI app, persistence, authentication, web page."""
