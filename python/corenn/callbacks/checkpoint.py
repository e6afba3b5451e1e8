"""Callbacks that write files: ModelCheckpoint, BackupAndRestore (atomic writes, see saving.py)."""
import os
import warnings

import numpy as np

from .base import Callback, _monitor_op


class ModelCheckpoint(Callback):
    """Saves the model (or its weights) during training, atomically.

    Args:
        filepath: where to save; may hold ``str.format`` fields filled from ``epoch`` (1-based,
            as Keras), ``batch`` (1-based, with an integer save_freq) and the logs, e.g.
            ``'ckpt-{epoch:02d}-{val_loss:.2f}.keras'``. Full models are written with
            ``model.save`` (the name must end in ``.keras``), weights with
            ``model.save_weights`` (``.npz``).
        monitor: log key compared when ``save_best_only`` ('val_loss', 'accuracy', ...).
        verbose: 1 prints a line for each save (and each non-improvement).
        save_best_only: save only when ``monitor`` improves on the best value so far.
        save_weights_only: write only the weights.
        mode: 'min', 'max' or 'auto' (max for names containing 'acc' or ending in 'auc').
        save_freq: 'epoch' (at each epoch end) or an int N (every N training batches).
        initial_value_threshold: a first "best" value that must be beaten to save.
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):
        super().__init__()
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, int)
                                     or save_freq <= 0):
            raise ValueError(f"ModelCheckpoint: save_freq must be 'epoch' or a positive int, "
                             f"got {save_freq!r}")
        from .. import saving
        self.filepath = os.fspath(filepath)
        # Keras checks the name up front, not at the first save an epoch later
        if save_weights_only:
            from .. import train
            if not train.is_weights_prefix(self.filepath):   # a prefix: tf.keras 2's checkpoint format
                saving.check_weights_path(self.filepath, "ModelCheckpoint")
        elif not self._directory_template():
            # (a name without an extension is TF-Keras 2's SavedModel directory: model.save
            # writes corenn's model directory there, which load_model reads)
            saving.check_model_path(self.filepath, "ModelCheckpoint")
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        self.mode = _monitor_op("ModelCheckpoint", monitor, mode)
        self.save_freq = save_freq
        self.initial_value_threshold = initial_value_threshold
        self.best = initial_value_threshold
        self._batches_seen = 0
        self._epoch = 0

    def on_train_begin(self, logs=None):
        self._batches_seen = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches_seen += 1
        if self._batches_seen % self.save_freq == 0:
            self._save(self._epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, None, logs)

    def _improved(self, value):
        if self.best is None:
            return True
        return value < self.best if self.mode == "min" else value > self.best

    def _directory_template(self):
        """Whether the name is TF-Keras 2's SavedModel directory: no extension, judged on the
        template, where a dot before a format field (``m.{epoch:02d}-{val_loss:.2f}``) starts no
        extension (formatted, ``m.05-0.83`` would look like one ending in .83)."""
        from .. import saving
        base = os.path.basename(self.filepath.rstrip("/\\"))
        ext = os.path.splitext(base)[1]
        return saving.is_model_directory_name(self.filepath) or "{" in ext or "}" in ext

    def _path(self, epoch, batch, logs):
        fields = {k: float(np.asarray(v)) if np.ndim(v) == 0 else v for k, v in logs.items()}
        fields.update(epoch=epoch + 1)
        if batch is not None:
            fields["batch"] = batch + 1
        try:
            return self.filepath.format(**fields)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"ModelCheckpoint: cannot format filepath {self.filepath!r} with "
                             f"epoch, batch and the logs {sorted(logs)}: {exc!r}") from None

    def _save(self, epoch, batch, logs):
        logs = dict(logs or {})
        path = self._path(epoch, batch, logs)
        if self.save_best_only:
            value = logs.get(self.monitor)
            if value is None:
                warnings.warn(f"ModelCheckpoint: can save best model only with {self.monitor!r} "
                              f"available in the logs (available: {sorted(logs)}); skipping",
                              RuntimeWarning, stacklevel=2)
                return
            value = float(np.asarray(value))
            if not self._improved(value):
                if self.verbose > 0:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")
                return
            if self.verbose > 0:
                previous = "inf" if self.best is None else f"{self.best:.5f}"
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {previous} to "
                      f"{value:.5f}, saving model to {path}")
            self.best = value
        elif self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")
        if self.save_weights_only:
            self.model.save_weights(path)
        elif self._directory_template():
            self.model.save(path, overwrite=True, zipped=False)   # corenn's model directory
        else:
            self.model.save(path, overwrite=True)


class BackupAndRestore(Callback):
    """Backs up the training state each epoch so that an interrupted ``fit`` resumes where it
    stopped, with the same result as a run that was never interrupted.

    At each epoch end, one model file (``<backup_dir>/backup.keras``, written atomically)
    receives the weights, the optimizer state, the epoch and the exact state of corenn's random
    generator (``utils.random.get_generator()``, which draws the shuffling order and the
    dropout seeds). When ``fit`` starts and a backup exists, weights, optimizer and generator
    are restored and training resumes at the next epoch: the same batches, the same dropout
    masks, the same updates (restoring the generator state, rather than reseeding per epoch,
    keeps runs without this callback unchanged). Not covered: Dropout layers given their own
    ``seed`` and Python's ``random`` / NumPy's global state.

    With an integer ``save_freq`` the backup is written every that many batches instead (as
    Keras 3, not at epoch ends); a fit resumed from such a backup starts the interrupted epoch
    again from its first batch with the backed-up weights and optimizer, as Keras 3 does, so it
    is not bit-identical to an uninterrupted run.

    Args:
        backup_dir: directory for the backup (created when needed).
        save_freq: 'epoch', or a positive number of batches between backups.
        delete_checkpoint: remove the backup when ``fit`` finishes normally.
    """

    FILENAME = "backup.keras"

    def __init__(self, backup_dir, save_freq="epoch", delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError("BackupAndRestore: backup_dir is required")
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, int)
                                     or save_freq < 1):
            raise ValueError(f"BackupAndRestore: save_freq must be 'epoch' or a positive number of batches, "
                             f"got {save_freq!r}")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.delete_checkpoint = bool(delete_checkpoint)
        self.resumed_from_epoch = None
        self._epoch = 0
        self._batches_since_save = 0

    @property
    def _path(self):
        return os.path.join(self.backup_dir, self.FILENAME)

    def on_train_begin(self, logs=None):
        from .. import saving
        from ..utils.random import get_generator
        self.resumed_from_epoch = None
        self._batches_since_save = 0
        if not os.path.exists(self._path):
            return
        state = saving.restore_training_state(self.model, self._path)
        try:
            epoch = state["epoch"]   # the last completed epoch (-1: a backup inside the first)
            if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < -1:
                raise ValueError(f"bad epoch {epoch!r}")
            get_generator().bit_generator.state = state["rng"]
        except (TypeError, KeyError, ValueError) as exc:
            raise ValueError(f"{self._path}: not a valid BackupAndRestore backup: "
                             f"{type(exc).__name__}: {exc}") from None
        self.resumed_from_epoch = epoch + 1
        self.model._initial_epoch = epoch + 1

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = int(epoch)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(int(epoch))

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches_since_save += 1
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save(self._epoch - 1, batch=int(batch))   # this epoch is not complete

    def _save(self, completed_epoch, batch=None):
        from .. import saving
        from ..utils.random import get_generator
        state = {"epoch": completed_epoch, "rng": get_generator().bit_generator.state}
        if batch is not None:
            state["batch"] = batch
        os.makedirs(self.backup_dir, exist_ok=True)
        saving.save_model(self.model, self._path, training_state=state)

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and os.path.exists(self._path):
            os.remove(self._path)
            try:
                os.rmdir(self.backup_dir)  # only when empty
            except OSError:
                pass
