"""The devhost's sample app, where the worker looks for it (``function_app.py``)."""

from tests.devhost.sample_app import app  # noqa: F401
