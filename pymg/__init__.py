"""pymg: skeleton-based micro-gesture recognition."""

from pymg._version import __version__

__all__ = ["__version__"]
