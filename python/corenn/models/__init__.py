"""corenn.models: Model (functional API and subclassing), Sequential, and loading saved models."""
from ..saving import load_model
from .graph import Input
from .model import Model
from .sequential import Sequential
from .. import saving as _saving

_saving.register_model_class("Sequential", Sequential)
_saving.register_model_class("Functional", Model)
_saving.register_model_class("Model", Model)

__all__ = ["Model", "Sequential", "Input", "load_model"]
