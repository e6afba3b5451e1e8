"""keras-io examples/structured_data/imbalanced_classification (credit card fraud), imports
changed; the Kaggle CSV is replaced by synthetic transactions (about 2% fraud), and the
confusion metrics are checked against the counts computed from the predictions."""
import numpy as np
import corenn as keras

keras.utils.set_random_seed(0)
rng = np.random.default_rng(10)

n = 6000
num_features = 30
all_features = rng.normal(size=(n, num_features)).astype("float32") * rng.uniform(0.5, 20, num_features)
fraud = rng.random(n) < 0.02
all_features[fraud, :4] += 3.0 * all_features[:, :4].std(0)
all_targets = fraud.astype("int64")[:, None]

print("features.shape:", all_features.shape)
print("targets.shape:", all_targets.shape)

num_val_samples = int(len(all_features) * 0.2)
train_features = all_features[:-num_val_samples]
train_targets = all_targets[:-num_val_samples]
val_features = all_features[-num_val_samples:]
val_targets = all_targets[-num_val_samples:]

print("Number of training samples:", len(train_features))
print("Number of validation samples:", len(val_features))

counts = np.bincount(train_targets[:, 0])
print(
    "Number of positive samples in training data: {} ({:.2f}% of total)".format(
        counts[1], 100 * float(counts[1]) / len(train_targets)
    )
)

weight_for_0 = 1.0 / counts[0]
weight_for_1 = 1.0 / counts[1]

mean = np.mean(train_features, axis=0)
train_features -= mean
val_features -= mean
std = np.std(train_features, axis=0)
train_features /= std
val_features /= std

model = keras.Sequential(
    [
        keras.Input(shape=train_features.shape[1:]),
        keras.layers.Dense(256, activation="relu"),
        keras.layers.Dense(256, activation="relu"),
        keras.layers.Dropout(0.3),
        keras.layers.Dense(256, activation="relu"),
        keras.layers.Dropout(0.3),
        keras.layers.Dense(1, activation="sigmoid"),
    ]
)
model.summary()

metrics = [
    keras.metrics.FalseNegatives(name="fn"),
    keras.metrics.FalsePositives(name="fp"),
    keras.metrics.TrueNegatives(name="tn"),
    keras.metrics.TruePositives(name="tp"),
    keras.metrics.Precision(name="precision"),
    keras.metrics.Recall(name="recall"),
]

model.compile(
    optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy", metrics=metrics
)

callbacks = [keras.callbacks.ModelCheckpoint("fraud_model_at_epoch_{epoch}.keras")]
class_weight = {0: weight_for_0, 1: weight_for_1}

history = model.fit(
    train_features,
    train_targets,
    batch_size=2048,
    epochs=10,
    verbose=2,
    callbacks=callbacks,
    validation_data=(val_features, val_targets),
    class_weight=class_weight,
)

logs = model.evaluate(val_features, val_targets, verbose=0, return_dict=True)
print(logs)
pred = model.predict(val_features, verbose=0)[:, 0] > 0.5
true = val_targets[:, 0] == 1
assert logs["tp"] == np.sum(pred & true) and logs["fn"] == np.sum(~pred & true)
assert logs["fp"] == np.sum(pred & ~true) and logs["tn"] == np.sum(~pred & ~true)
assert logs["tp"] + logs["fn"] + logs["fp"] + logs["tn"] == len(val_targets)
# the class weights make the model find most of the frauds
assert logs["recall"] > 0.8, logs
assert np.isclose(logs["recall"], logs["tp"] / (logs["tp"] + logs["fn"]), rtol=1e-5)
assert "val_fn" in history.history and len(history.history["val_tp"]) == 10

reloaded = keras.models.load_model("fraud_model_at_epoch_10.keras")
np.testing.assert_allclose(reloaded.predict(val_features, verbose=0),
                           model.predict(val_features, verbose=0), rtol=1e-5, atol=1e-6)
