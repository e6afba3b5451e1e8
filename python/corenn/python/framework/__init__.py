"""``tensorflow.python.framework``: see corenn/python/__init__.py."""
