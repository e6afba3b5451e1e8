"""The float64 forms of the convolution and pooling layers (see layers/_float64.py)."""
