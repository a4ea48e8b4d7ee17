"""mailflow: run a mentoring program by email."""

__version__ = "0.1.0"
