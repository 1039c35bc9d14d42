"""The errors the local stack raises: each message says which service, and why."""

from __future__ import annotations


class StackError(RuntimeError):
    """A service could not be started or provisioned; the message says which and why."""


class PortInUseError(StackError):
    """A port a service needs is taken; the message names the variable that moves it."""
