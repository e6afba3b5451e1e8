"""One model used from several threads (the rule is in models/training.py's docstring).

The kernels release the GIL and the layers reuse their activation buffers, so without the
model's lock two threads' batches overwrite each other's activations and predictions come back
wrong. Each test compares every result with the single-threaded answer.
"""
import threading

import numpy as np
import pytest

import corenn
from corenn import layers


def _model(seed=0):
    corenn.utils.set_random_seed(seed)
    model = corenn.Sequential([
        layers.Dense(64, activation="relu", input_shape=(32,)),
        layers.Dense(64, activation="tanh"),
        layers.Dense(10),
    ])
    model.compile(optimizer=corenn.optimizers.SGD(learning_rate=0.0), loss="mse", metrics=["mae"])
    return model


def _run_threads(*targets):
    errors = []

    def guarded(fn):
        def run():
            try:
                fn()
            except BaseException as exc:  # reported by the main thread
                errors.append(exc)
        return run

    threads = [threading.Thread(target=guarded(fn)) for fn in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def _inputs(rng, n_threads, batch):
    # Different data per thread, different batch sizes: a shared buffer would mix them up.
    return [rng.standard_normal((batch + 7 * i, 32)).astype(np.float32) for i in range(n_threads)]


def test_two_threads_predicting_get_their_own_answers(rng):
    model = _model()
    xs = _inputs(rng, 2, 48)
    expected = [model.predict(x) for x in xs]
    wrong = [0, 0]

    def worker(i):
        def run():
            for _ in range(1000):
                if not np.array_equal(model.predict(xs[i], batch_size=16), expected[i]):
                    wrong[i] += 1
        return run

    _run_threads(worker(0), worker(1))
    assert wrong == [0, 0]


def test_predict_while_evaluating_and_training(rng):
    # SGD with learning rate 0: training runs every kernel and reuses every buffer but leaves
    # the weights as they are, so each prediction and evaluation has one right answer.
    model = _model()
    x_pred, x_eval = _inputs(rng, 2, 40)
    y_eval = rng.standard_normal((len(x_eval), 10)).astype(np.float32)
    expected_pred = model.predict(x_pred)
    expected_eval = model.evaluate(x_eval, y_eval, verbose=0)
    bad = {"predict": 0, "evaluate": 0}

    def predictor():
        for _ in range(300):
            bad["predict"] += not np.array_equal(model.predict(x_pred, batch_size=8), expected_pred)

    def evaluator():
        for _ in range(150):
            got = model.evaluate(x_eval, y_eval, batch_size=8, verbose=0)
            bad["evaluate"] += not np.allclose(got, expected_eval, rtol=1e-6)

    def trainer():
        for _ in range(150):
            model.train_on_batch(x_eval, y_eval)

    _run_threads(predictor, evaluator, trainer)
    assert bad == {"predict": 0, "evaluate": 0}


def test_a_second_training_thread_is_refused_with_a_clear_error(rng):
    model = _model()
    x = rng.standard_normal((64, 32)).astype(np.float32)
    y = rng.standard_normal((64, 10)).astype(np.float32)
    started, release = threading.Event(), threading.Event()

    class Hold(corenn.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            started.set()
            release.wait(10)

    trainer = threading.Thread(target=lambda: model.fit(x, y, batch_size=64, epochs=1, verbose=0,
                                                        callbacks=[Hold()]))
    trainer.start()
    try:
        assert started.wait(10)
        for call in (lambda: model.fit(x, y, verbose=0), lambda: model.train_on_batch(x, y),
                     lambda: model.compute_gradients(x, y)):
            with pytest.raises(RuntimeError, match="another thread is training"):
                call()
        # Inference is still served while the other thread trains.
        assert model.predict(x[:4]).shape == (4, 10)
    finally:
        release.set()
        trainer.join()
    model.train_on_batch(x, y)  # the trainer has finished: training is open again


def test_callbacks_may_call_the_model_from_inside_fit(rng):
    model = _model()
    x = rng.standard_normal((32, 32)).astype(np.float32)
    y = rng.standard_normal((32, 10)).astype(np.float32)
    seen = []
    cb = corenn.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(
        (model.predict(x[:2]).shape, model.evaluate(x, y, verbose=0))))
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[cb])
    assert len(seen) == 2 and seen[0][0] == (2, 10)
