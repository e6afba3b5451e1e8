"""keras.tree: functions over nested structures (lists, tuples, namedtuples, dicts) of leaves.

Keras 3's rules: lists, tuples (namedtuples keep their type) and dicts nest; everything else,
None included, is a leaf; dict leaves come in sorted key order and a rebuilt dict keeps the
caller's key order. Paths (``flatten_with_path``) are tuples of list indices and dict keys.

Reference: keras.tree (Keras 3).
"""
from __future__ import annotations

import collections.abc

__all__ = ["is_nested", "flatten", "flatten_with_path", "pack_sequence_as", "map_structure",
           "map_structure_up_to", "assert_same_structure", "traverse", "lists_to_tuples",
           "map_shape_structure", "MAP_TO_NONE", "assert_same_paths"]


class MAP_TO_NONE:
    """Returned by a ``traverse`` function: the node becomes None (None itself means "keep
    walking" top down and "keep the node" bottom up)."""


def is_nested(structure):
    """Whether ``structure`` is a list, tuple or dict (a container this module walks into)."""
    return isinstance(structure, (list, tuple, dict, collections.abc.Mapping))


def _children(structure):
    """(key, child) pairs in Keras' order."""
    if isinstance(structure, collections.abc.Mapping):
        return [(k, structure[k]) for k in sorted(structure)]
    return list(enumerate(structure))


def _rebuild(structure, children):
    if isinstance(structure, collections.abc.Mapping):
        by_key = dict(zip(sorted(structure), children))
        return type(structure)((k, by_key[k]) for k in structure)
    if isinstance(structure, tuple) and hasattr(structure, "_fields"):
        return type(structure)(*children)
    return type(structure)(children)


def flatten(structure):
    """The leaves of ``structure``, depth first."""
    if not is_nested(structure):
        return [structure]
    return [leaf for _, child in _children(structure) for leaf in flatten(child)]


def flatten_with_path(structure):
    """[(path, leaf)], a path being the tuple of keys / indices from the root to the leaf."""
    if not is_nested(structure):
        return [((), structure)]
    return [((key,) + path, leaf) for key, child in _children(structure)
            for path, leaf in flatten_with_path(child)]


def pack_sequence_as(structure, flat_sequence):
    """``flat_sequence`` put back into the shape of ``structure`` (the inverse of flatten)."""
    leaves = list(flat_sequence)
    position = 0

    def build(s):
        nonlocal position
        if not is_nested(s):
            if position >= len(leaves):
                raise ValueError(f"keras.tree.pack_sequence_as: the structure has more leaves than the "
                                 f"{len(leaves)} values given")
            position += 1
            return leaves[position - 1]
        return _rebuild(s, [build(child) for _, child in _children(s)])
    out = build(structure)
    if position != len(leaves):
        raise ValueError(f"keras.tree.pack_sequence_as: {len(leaves)} values given for a structure of "
                         f"{position} leaves")
    return out


def assert_same_structure(a, b, check_types=True):
    """Raise ValueError unless ``a`` and ``b`` nest the same way (and, with check_types, with the
    same container types)."""
    def check(x, y, path):
        if is_nested(x) != is_nested(y):
            raise ValueError(f"keras.tree.assert_same_structure: at {path or 'the root'}, one structure "
                             f"is nested ({type(x).__name__}) and the other is not ({type(y).__name__})")
        if not is_nested(x):
            return
        if check_types and type(x) is not type(y) and not (
                isinstance(x, collections.abc.Mapping) and isinstance(y, collections.abc.Mapping)):
            raise ValueError(f"keras.tree.assert_same_structure: at {path or 'the root'}, "
                             f"{type(x).__name__} vs {type(y).__name__}")
        cx, cy = _children(x), _children(y)
        if [k for k, _ in cx] != [k for k, _ in cy]:
            raise ValueError(f"keras.tree.assert_same_structure: at {path or 'the root'}, keys or lengths "
                             f"differ: {[k for k, _ in cx]} vs {[k for k, _ in cy]}")
        for (k, vx), (_, vy) in zip(cx, cy):
            check(vx, vy, path + (k,))
    check(a, b, ())


def assert_same_paths(a, b):
    """Raise ValueError unless ``a`` and ``b`` have the same set of leaf paths (container types
    may differ: a list and a tuple of two leaves have the same paths), naming the paths that
    only one of them has."""
    pa, pb = {p for p, _ in flatten_with_path(a)}, {p for p, _ in flatten_with_path(b)}
    if pa != pb:
        msg = "keras.tree.assert_same_paths: `a` and `b` don't have the same paths."
        if pa - pb:
            msg += f"\nPaths in `a` missing in `b`:\n{sorted(pa - pb, key=repr)}"
        if pb - pa:
            msg += f"\nPaths in `b` missing in `a`:\n{sorted(pb - pa, key=repr)}"
        raise ValueError(msg)


def map_structure(func, *structures, none_is_leaf=True):
    """``func`` applied to the leaves of one or more structures of the same nesting, in that
    nesting."""
    if not structures:
        raise ValueError("keras.tree.map_structure: give at least one structure")
    for other in structures[1:]:
        assert_same_structure(structures[0], other, check_types=False)
    flats = [flatten(s) for s in structures]
    return pack_sequence_as(structures[0], [func(*leaves) for leaves in zip(*flats)])


def map_structure_up_to(shallow_structure, func, *structures):
    """Like map_structure, but ``func`` gets the sub-structures found at the leaves of
    ``shallow_structure`` (which the others must nest at least as deeply as)."""
    def walk(shallow, items):
        if not is_nested(shallow):
            return func(*items)
        keys = [k for k, _ in _children(shallow)]
        for item in items:
            if not is_nested(item) or [k for k, _ in _children(item)] != keys:
                raise ValueError("keras.tree.map_structure_up_to: a structure does not nest like the "
                                 "shallow structure")
        return _rebuild(shallow, [walk(child, [dict(_children(item))[k] for item in items])
                                  for k, child in _children(shallow)])
    return walk(shallow_structure, list(structures))


def traverse(func, structure, top_down=True):
    """Visit every node. Top down: ``func(node)`` returning None walks on into the node, anything
    else replaces it (and stops the walk there). Bottom up: children first, then ``func`` on the
    rebuilt node; None keeps the node."""
    def down(s):
        out = func(s)
        if out is MAP_TO_NONE:
            return None
        if out is not None:
            return out
        return _rebuild(s, [down(c) for _, c in _children(s)]) if is_nested(s) else s

    def up(s):
        if is_nested(s):
            s = _rebuild(s, [up(c) for _, c in _children(s)])
        out = func(s)
        if out is MAP_TO_NONE:
            return None
        return s if out is None else out
    return down(structure) if top_down else up(structure)


def lists_to_tuples(structure):
    """Every list in ``structure`` as a tuple."""
    if not is_nested(structure):
        return structure
    children = [lists_to_tuples(c) for _, c in _children(structure)]
    if isinstance(structure, list):
        return tuple(children)
    return _rebuild(structure, children)


def map_shape_structure(func, structure):
    """map_structure for structures of shapes: a tuple or list of ints / None is one leaf."""
    def is_shape(s):
        return isinstance(s, (tuple, list)) and all(d is None or isinstance(d, int) for d in s)
    if is_shape(structure) or not is_nested(structure):
        return func(structure)
    return _rebuild(structure, [map_shape_structure(func, c) for _, c in _children(structure)])
