"""openapp-status: ask an OpenApp backend whether it is up, and which version."""

__version__ = "0.1.0"
