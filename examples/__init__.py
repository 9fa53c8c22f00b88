"""Runnable examples used by the documentation and the Docker image (``docker/``)."""
