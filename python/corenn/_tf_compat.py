"""TensorFlow 2 names that programs call for their side effects or to ask about the runtime:
``tf.compat.v1`` (logging verbosity, ``enable_eager_execution``, ``set_random_seed``),
``tf.test`` (``is_gpu_available``, ``is_built_with_cuda``, ``gpu_device_name``), ``tf.autograph``
(``experimental.do_not_convert``, ``set_verbosity``), ``tf.sysconfig.get_build_info``,
``tf.executing_eagerly`` and ``tf.get_logger``. corenn always runs eagerly; what would switch that
off (``disable_eager_execution``, ``disable_v2_behavior``, sessions) raises, naming why."""
from __future__ import annotations

import logging as _logging
import types as _types


def executing_eagerly():
    """True: corenn runs every op as it is called (``tf.function`` is accepted and runs eagerly)."""
    return True


def get_logger():
    """TensorFlow's logger (``tf.get_logger().setLevel('ERROR')``): the standard 'tensorflow' logger."""
    return _logging.getLogger("tensorflow")


def _gpu():
    from . import cuda
    return cuda.is_available()


def _refuse(name):
    def fn(*args, **kwargs):
        raise NotImplementedError(f"tf.compat.v1.{name}: corenn runs eagerly only (TensorFlow 1's graphs and "
                                  "sessions are not built); write the program in TensorFlow 2 style")
    fn.__name__ = name
    return fn


def _set_random_seed(seed):
    from . import random
    random.set_seed(seed)


_v1_logging = _types.SimpleNamespace(
    DEBUG=_logging.DEBUG, INFO=_logging.INFO, WARN=_logging.WARNING, WARNING=_logging.WARNING,
    ERROR=_logging.ERROR, FATAL=_logging.FATAL,
    set_verbosity=lambda level: get_logger().setLevel(level),
    get_verbosity=lambda: get_logger().getEffectiveLevel(),
    info=lambda *a, **k: get_logger().info(*a, **k), warning=lambda *a, **k: get_logger().warning(*a, **k),
    warn=lambda *a, **k: get_logger().warning(*a, **k), error=lambda *a, **k: get_logger().error(*a, **k),
    debug=lambda *a, **k: get_logger().debug(*a, **k))

v1 = _types.SimpleNamespace(
    logging=_v1_logging,
    enable_eager_execution=lambda *a, **k: None,
    executing_eagerly=executing_eagerly,
    set_random_seed=_set_random_seed,
    disable_eager_execution=_refuse("disable_eager_execution"),
    disable_v2_behavior=_refuse("disable_v2_behavior"),
    Session=_refuse("Session"),
    placeholder=_refuse("placeholder"),
    ConfigProto=_refuse("ConfigProto"),
)

test = _types.SimpleNamespace(
    is_gpu_available=lambda cuda_only=False, min_cuda_compute_capability=None: _gpu(),
    is_built_with_cuda=lambda: _gpu(),
    gpu_device_name=lambda: "/device:GPU:0" if _gpu() else "",
)


def _do_not_convert(func=None):
    return (lambda f: f) if func is None else func


autograph = _types.SimpleNamespace(
    experimental=_types.SimpleNamespace(do_not_convert=_do_not_convert),
    set_verbosity=lambda level, alsologtostdout=False: None,
    to_code=_refuse("autograph.to_code"),
)


def _build_info():
    return {"is_cuda_build": _gpu(), "is_rocm_build": False, "is_tensorrt_build": False}


sysconfig = _types.SimpleNamespace(get_build_info=_build_info)
