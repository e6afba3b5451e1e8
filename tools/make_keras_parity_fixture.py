"""Write tests/interop/keras_fixtures/parity.npz: what Keras 3 computes for the cases of
tests/interop/keras_parity_cases.py, which tests/interop/test_keras_parity.py checks corenn
against (corenn's CI does not install Keras).

Needs Keras 3 on the torch backend (the gradients are torch's autograd):

    pip install torch keras
    KERAS_BACKEND=torch python tools/make_keras_parity_fixture.py [out.npz]

The file holds plain arrays (np.savez_compressed, read without pickle), under keys
    layer/<case>/x<i>, y<i>, w<j>, gx<i>, gw<j>     inputs, outputs, weights (get_weights order),
                                                    gradients of sum(y * r) (r seeded by the case)
    opt/<name>/loss, w<j>                           loss history, weights after fit
    loss/<name>/<plain|weighted>/value, grad        the loss and its gradient in y_pred
    metric/<name>                                   result after two updates
    fit/<name>/init<j>, w<j>, hist/<key>, eval/<key>  Keras' initial and final weights, logs
    ops/value/<k>, ops/grad/<k>/<array>             OPS_VALUES[k]'s value (the first item of a
                                                    tuple); OPS_GRADS[k]'s gradients
A case Keras fails on is left out and named on stdout.
"""
import os
import sys

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "torch")
import keras  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "tests", "interop"))
import keras_parity_cases as cases  # noqa: E402


def _np(y):
    if isinstance(y, (list, tuple)):
        return [_np(t) for t in y]
    return y.detach().cpu().numpy() if hasattr(y, "detach") else np.asarray(y)


def layers(out):
    for i, case in enumerate(cases.LAYER_CASES):
        key = f"layer/{case['name']}"
        try:
            layer = cases.make_layer(keras, case)
            xs = cases.layer_inputs(case, i)
            ys = _np(cases.call_layer(layer, case, xs))
            ys = ys if isinstance(ys, list) else [ys]
            found = {f"{key}/x{j}": x for j, x in enumerate(xs)}
            found.update({f"{key}/y{j}": y for j, y in enumerate(ys)})
            found.update({f"{key}/w{j}": np.asarray(w) for j, w in enumerate(layer.get_weights())})
            if not case["integer"] and len(ys) == 1 and ys[0].dtype.kind == "f":
                txs = [torch.tensor(x, requires_grad=True) for x in xs]
                for v in layer.trainable_weights:
                    v.value.grad = None
                r = torch.tensor(np.random.default_rng(1000 + i).standard_normal(ys[0].shape).astype("float32"))
                (cases.call_layer(layer, case, txs) * r).sum().backward()
                found.update({f"{key}/gx{j}": t.grad.numpy() for j, t in enumerate(txs) if t.grad is not None})
                found.update({f"{key}/gw{j}": v.value.grad.numpy() for j, v in enumerate(layer.trainable_weights)
                              if v.value.grad is not None})
            out.update(found)
        except Exception as e:   # noqa: BLE001 - a case Keras cannot run is left out, by name
            print(f"left out {key}: {type(e).__name__}: {str(e)[:120]}")


def optimizers(out):
    x, y, w0 = cases.optimizer_problem()
    for name, make in cases.optimizers(keras).items():
        m = cases.optimizer_model(keras, w0)
        m.compile(make(), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        out[f"opt/{name}/loss"] = np.array(m.fit(x, y, batch_size=16, epochs=5, shuffle=False, verbose=0).history["loss"])
        out.update({f"opt/{name}/w{j}": np.asarray(w) for j, w in enumerate(m.get_weights())})


def losses_and_metrics(out):
    t = cases.TARGETS
    for name, (cls, kw, yt, yp) in cases.LOSSES.items():
        loss = getattr(keras.losses, cls)(**kw)
        for tag, w in (("plain", None), ("weighted", t["weights"])):
            p = torch.tensor(t[yp], requires_grad=True)
            v = loss(torch.tensor(t[yt]), p, sample_weight=None if w is None else torch.tensor(w))
            v.sum().backward()
            out[f"loss/{name}/{tag}/value"] = v.detach().numpy()
            out[f"loss/{name}/{tag}/grad"] = p.grad.numpy()
    for name, (cls, kw, yt, yp) in cases.METRICS.items():
        m = getattr(keras.metrics, cls)(**kw)
        m.update_state(t[yt], t[yp])
        m.update_state(t[yt][:4], t[yp][:4], sample_weight=t["weights"][:4])
        out[f"metric/{name}"] = _np(m.result())


def fits(out):
    for name, build in cases.fit_models(keras).items():
        model, loss, x, y, extra, sw = build()
        out.update({f"fit/{name}/init{j}": np.asarray(w) for j, w in enumerate(model.get_weights())})
        model.compile(keras.optimizers.Adam(0.01), loss, **extra)
        hist = model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0, sample_weight=sw).history
        out.update({f"fit/{name}/hist/{k}": np.array(v) for k, v in hist.items()})
        out.update({f"fit/{name}/eval/{k}": np.array(v) for k, v in
                    model.evaluate(x, y, verbose=0, return_dict=True).items()})
        out.update({f"fit/{name}/w{j}": np.asarray(w) for j, w in enumerate(model.get_weights())})


def ops(out):
    env = cases.ops_env()
    names = cases.ops_namespace(keras)
    for k, expr in enumerate(cases.OPS_VALUES):
        try:
            got = _np(eval(expr, dict(names, **env)))   # noqa: S307 - the module's own expressions
            out[f"ops/value/{k}"] = np.asarray(got[0] if isinstance(got, list) else got)
        except Exception as e:   # noqa: BLE001
            print(f"left out ops value {expr!r}: {type(e).__name__}: {str(e)[:120]}")
    for k, expr in enumerate(cases.OPS_GRADS):
        try:
            tens = {n: torch.tensor(env[n], requires_grad=True) for n in cases.names_in(expr)}
            y = eval(expr, {**names, **env, **tens})   # noqa: S307
            r = torch.tensor(np.random.default_rng(k).standard_normal(tuple(y.shape)).astype("float32"))
            (y * r).sum().backward()
            out.update({f"ops/grad/{k}/{n}": (t.grad.numpy() if t.grad is not None else np.zeros_like(env[n]))
                        for n, t in tens.items()})
        except Exception as e:   # noqa: BLE001
            print(f"left out ops gradient {expr!r}: {type(e).__name__}: {str(e)[:120]}")


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), os.pardir, "tests", "interop", "keras_fixtures", "parity.npz")
    # every initial weight Keras draws comes from this seed: the fixture is the same on every run
    keras.utils.set_random_seed(0)
    out = {"keras_version": np.array(keras.__version__)}
    layers(out)
    optimizers(out)
    losses_and_metrics(out)
    fits(out)
    ops(out)
    np.savez_compressed(path, **out)
    print(f"wrote {len(out)} arrays to {path}")


if __name__ == "__main__":
    main()
