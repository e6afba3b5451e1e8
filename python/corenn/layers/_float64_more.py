"""The float64 forms of more built-in layers (see layers/_float64.py)."""
