"""The one place the version number is written (hatch reads it at build time)."""

__version__ = "0.2.0"
