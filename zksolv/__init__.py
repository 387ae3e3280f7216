"""zksolv: zero-knowledge proof that every margin account is above maintenance."""

__version__ = "0.1.0"
