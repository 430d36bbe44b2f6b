"""NEST through PyNN: setup, the native fast path and the capacity model."""

from .setup import choose_threads, setup

__all__ = ["choose_threads", "setup"]
