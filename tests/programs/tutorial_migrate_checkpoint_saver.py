"""TensorFlow guide "Migrate checkpoint saving" (guide/migrate/checkpoint_saver), imports changed:
its TensorFlow 2 part (the TF1 part needs tf.compat.v1.estimator, which corenn does not have):
a Sequential MNIST classifier compiled with `steps_per_execution=10`, and
`tf.keras.callbacks.ModelCheckpoint(filepath=log_dir)` with `log_dir = tempfile.mkdtemp()`, an
existing empty directory, where TF-Keras 2 writes a SavedModel every epoch (corenn writes its model
directory; `%ls {model_checkpoint_callback.filepath}` becomes `os.listdir`). A 1000 / 200 image
Fashion-MNIST subset (guide_data) stands in for MNIST, 3 epochs instead of 10. Checked: the
directory holds the last epoch's model, which `load_model` reads back."""
import os
import tempfile
import numpy as np
import corenn as tf

from guide_data import fashion

(x_train, y_train), (x_test, y_test) = fashion(1000, 200)
x_train, x_test = x_train / 255.0, x_test / 255.0


def create_model():
  return tf.keras.models.Sequential([
    tf.keras.layers.Flatten(input_shape=(28, 28)),
    tf.keras.layers.Dense(512, activation='relu'),
    tf.keras.layers.Dropout(0.2),
    tf.keras.layers.Dense(10, activation='softmax')
  ])


model = create_model()
model.compile(optimizer='adam',
              loss='sparse_categorical_crossentropy',
              metrics=['accuracy'],
              steps_per_execution=10)

log_dir = tempfile.mkdtemp()

model_checkpoint_callback = tf.keras.callbacks.ModelCheckpoint(
    filepath=log_dir)

history = model.fit(x=x_train,
                    y=y_train,
                    epochs=3,
                    validation_data=(x_test, y_test),
                    callbacks=[model_checkpoint_callback],
                    verbose=0)

print(sorted(os.listdir(model_checkpoint_callback.filepath)))
assert "config.json" in os.listdir(model_checkpoint_callback.filepath)
restored = tf.keras.models.load_model(log_dir)
np.testing.assert_allclose(restored.predict(x_test, verbose=0), model.predict(x_test, verbose=0), rtol=1e-5,
                           atol=1e-6)
loss, acc = restored.evaluate(x_test, y_test, verbose=0)
print("restored model: loss", loss, "accuracy", acc)
np.testing.assert_allclose(acc, history.history["val_accuracy"][-1], rtol=1e-6)
assert acc > 0.6
