"""Maestro: run many AI coding agents on your projects' tasks and watch it all live."""

__version__ = "0.1.0"
