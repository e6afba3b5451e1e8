"""``tf.keras.utils.SidecarEvaluator`` (tf.keras 2): a dedicated evaluator that follows the
checkpoints a training job writes and evaluates the model on each."""
from __future__ import annotations

import logging

_log = logging.getLogger("corenn")


class SidecarEvaluator:
    """Evaluate ``model`` (compiled, with its metrics) on ``data`` for each new checkpoint that
    appears in ``checkpoint_dir``: the files of ``tf.train.CheckpointManager`` /
    ``Checkpoint(model=..., optimizer=...)``, or of ``ModelCheckpoint(save_weights_only=True)``
    to a name without extension (tf.keras 2's checkpoint format). ``start()`` returns after the
    checkpoint whose name ends in ``-<max_evaluations>`` (``ckpt-3`` for 3); with
    ``max_evaluations=None`` it waits for checkpoints forever, as TensorFlow's does.

    The training step stored with the checkpoint is set as the model optimizer's
    ``iterations`` (what callbacks such as TensorBoard log against); a checkpoint without it
    raises RuntimeError, as TensorFlow's evaluator does."""

    def __init__(self, model, data, checkpoint_dir, steps=None, max_evaluations=None, callbacks=None):
        if max_evaluations is not None and (isinstance(max_evaluations, bool) or int(max_evaluations) < 1):
            raise ValueError(f"SidecarEvaluator: max_evaluations must be None or a positive integer, "
                             f"got {max_evaluations!r}")
        self.model = model
        self.data = data
        self.checkpoint_dir = checkpoint_dir
        self.steps = steps
        self.max_evaluations = max_evaluations
        self.callbacks = list(callbacks or [])
        self.results = []   # (checkpoint, evaluate's dict) per evaluated checkpoint

    def start(self):
        """Run the evaluation loop (see the class)."""
        import numpy as np
        from .. import train
        for latest in train.checkpoints_iterator(self.checkpoint_dir):
            reader = train.load_checkpoint(latest)
            step_keys = [k for k in reader.get_variable_to_shape_map() if k.endswith(".iterations")]
            if not step_keys:
                raise RuntimeError(f"SidecarEvaluator: `iterations` cannot be loaded from the checkpoint file "
                                   f"{latest}. Please ensure `iterations` is tracked in the `checkpoint` saved "
                                   "by the coordinator (tf.train.Checkpoint(model=..., optimizer=...)).")
            train.Checkpoint(model=self.model).restore(latest).expect_partial()
            if getattr(self.model, "optimizer", None) is not None:
                self.model.optimizer.iterations = int(np.asarray(reader.get_tensor(sorted(step_keys)[0])))
            _log.info("Evaluation starts: Model weights loaded from latest checkpoint file: %s.", latest)
            result = self.model.evaluate(self.data, steps=self.steps, callbacks=self.callbacks, return_dict=True,
                                         verbose=0)
            self.results.append((latest, result))
            _log.info("End of evaluation. Metrics: %s", " ".join(f"{k}={v}" for k, v in result.items()))
            if self.max_evaluations and str(latest).endswith(f"-{int(self.max_evaluations)}"):
                return
