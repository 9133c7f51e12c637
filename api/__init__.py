"""Command line (``drg``) and, later, the HTTP service: the top layer."""
