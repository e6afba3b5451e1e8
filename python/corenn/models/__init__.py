"""corenn.models: model containers."""
from .sequential import Sequential

__all__ = ["Sequential"]
