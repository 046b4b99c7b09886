"""Fake provider API servers speaking the documented request/response shapes."""
