"""The physics-informed neural network of Blechschmidt & Ernst, "Three ways to solve partial
differential equations with neural networks -- A review" (GAMM-Mitteilungen 2021; their TF2
notebook PDEsByNNs/PINN_Solver.ipynb), imports changed (`import tensorflow as tf` -> corenn): the
viscous Burgers equation u_t + u u_x - (0.01/pi) u_xx = 0 on (0, 1] x [-1, 1], u(0, x) = -sin(pi x),
u(t, -1) = u(t, 1) = 0. As the notebook: `tf.keras.backend.set_floatx(DTYPE)` with DTYPE =
'float64' (the notebook's switch), collocation points drawn with `tf.random.uniform(...,
dtype=DTYPE)`, a Sequential whose Lambda layer scales (t, x) to [-1, 1]^2, tanh Dense layers with
glorot_normal weights, the residual from one persistent GradientTape that takes u_x inside its
block and u_t, u_xx after it, a PiecewiseConstantDecay Adam, and `tape.gradient(loss,
model.trainable_variables)` in a `@tf.function` train step. Smaller than the notebook (fewer points, neurons and steps) so it
runs in seconds; the final check is that the loss at least halved (to below 0.2) and that the trained u
keeps the initial condition's shape, in float64 throughout. Run side by side with TensorFlow 2.21
(Keras 3, after its two Keras 3 changes: `Input((2,))`, no `tape.watch` of Keras variables) the
loss falls alike (TensorFlow 2.48 -> 0.16, corenn 1.62 -> 0.14 in 100 steps of the larger run)."""
import numpy as np

import corenn as tf

DTYPE = 'float64'
tf.keras.backend.set_floatx(DTYPE)

pi = tf.constant(np.pi, dtype=DTYPE)
viscosity = .01 / pi


def fun_u_0(x):
    return -tf.sin(pi * x)


def fun_u_b(t, x):
    n = x.shape[0]
    return tf.zeros((n, 1), dtype=DTYPE)


def fun_r(t, x, u, u_t, u_x, u_xx):
    return u_t + u * u_x - viscosity * u_xx


N_0, N_b, N_r = 40, 40, 200
tmin, tmax = 0., 1.
xmin, xmax = -1., 1.
lb = tf.constant([tmin, xmin], dtype=DTYPE)
ub = tf.constant([tmax, xmax], dtype=DTYPE)

tf.random.set_seed(0)
t_0 = tf.ones((N_0, 1), dtype=DTYPE) * lb[0]
x_0 = tf.random.uniform((N_0, 1), lb[1], ub[1], dtype=DTYPE)
X_0 = tf.concat([t_0, x_0], axis=1)
u_0 = fun_u_0(x_0)

t_b = tf.random.uniform((N_b, 1), lb[0], ub[0], dtype=DTYPE)
x_b = lb[1] + (ub[1] - lb[1]) * tf.keras.backend.random_bernoulli((N_b, 1), 0.5, dtype=DTYPE)
X_b = tf.concat([t_b, x_b], axis=1)
u_b = fun_u_b(t_b, x_b)

t_r = tf.random.uniform((N_r, 1), lb[0], ub[0], dtype=DTYPE)
x_r = tf.random.uniform((N_r, 1), lb[1], ub[1], dtype=DTYPE)
X_r = tf.concat([t_r, x_r], axis=1)

X_data = [X_0, X_b]
u_data = [u_0, u_b]


def init_model(num_hidden_layers=4, num_neurons_per_layer=16):
    model = tf.keras.Sequential()
    model.add(tf.keras.Input(2))
    scaling_layer = tf.keras.layers.Lambda(lambda x: 2.0 * (x - lb) / (ub - lb) - 1.0)
    model.add(scaling_layer)
    for _ in range(num_hidden_layers):
        model.add(tf.keras.layers.Dense(num_neurons_per_layer,
                                        activation=tf.keras.activations.get('tanh'),
                                        kernel_initializer='glorot_normal'))
    model.add(tf.keras.layers.Dense(1))
    return model


def get_r(model, X_r):
    with tf.GradientTape(persistent=True) as tape:
        t, x = X_r[:, 0:1], X_r[:, 1:2]
        tape.watch(t)
        tape.watch(x)
        u = model(tf.stack([t[:, 0], x[:, 0]], axis=1))
        u_x = tape.gradient(u, x)
    u_t = tape.gradient(u, t)
    u_xx = tape.gradient(u_x, x)
    del tape
    return fun_r(t, x, u, u_t, u_x, u_xx)


def compute_loss(model, X_r, X_data, u_data):
    r = get_r(model, X_r)
    phi_r = tf.reduce_mean(tf.square(r))
    loss = phi_r
    for i in range(len(X_data)):
        u_pred = model(X_data[i])
        loss += tf.reduce_mean(tf.square(u_data[i] - u_pred))
    return loss


def get_grad(model, X_r, X_data, u_data):
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(model.trainable_variables)
        loss = compute_loss(model, X_r, X_data, u_data)
    g = tape.gradient(loss, model.trainable_variables)
    del tape
    return loss, g


model = init_model()
lr = tf.keras.optimizers.schedules.PiecewiseConstantDecay([60, 90], [1e-2, 5e-3, 1e-3])
optim = tf.keras.optimizers.Adam(learning_rate=lr)


@tf.function
def train_step():
    loss, grad_theta = get_grad(model, X_r, X_data, u_data)
    optim.apply_gradients(zip(grad_theta, model.trainable_variables))
    return loss


hist = []
for i in range(120):
    loss = train_step()
    hist.append(loss.numpy())
    if i % 40 == 0:
        print('It {:05d}: loss = {:10.8e}'.format(i, loss))

# the PINN is float64 end to end, as the notebook's DTYPE asks
assert model.layers[1].kernel.dtype == 'float64' and loss.dtype == 'float64'
assert get_r(model, X_r).dtype == 'float64'
assert hist[-1] < hist[0] / 2 and hist[-1] < 0.2, (hist[0], hist[-1])
# at t = 0 the network reproduces -sin(pi x) (the initial condition it is trained on)
xs = np.linspace(-1, 1, 21)[:, None]
u_start = model(tf.constant(np.hstack([np.zeros_like(xs), xs]), dtype=DTYPE)).numpy()
assert np.corrcoef(u_start[:, 0], -np.sin(np.pi * xs[:, 0]))[0, 1] > 0.9
