"""The project's MNIST autoencoders in Keras 3 (TensorFlow backend), timed per training epoch.

    python scripts/peers/keras_ae.py conv-ae --epochs 3 --batch 128

Same nets, loss, optimiser and batch size as `cargo run --release --bin train -- <model>`:
dense-ae 784-32-784, deep-ae 784-128-64-32-64-128-784 (ReLU, sigmoid out, BCE), conv-ae
(16-8-8 3x3 convs, max-pool / nearest up-sampling, Keras blog layout), vae 784-400-20 (summed
BCE + KL per image); Adam at 1e-3, shuffled every epoch, no validation pass inside the timing.
Prints each epoch's seconds and a RESULT line (median of the epochs after the first).
"""

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

import mnist  # noqa: E402

BATCH = {"dense-ae": 256, "deep-ae": 256, "conv-ae": 128, "vae": 128}


def dense(widths, latent):
    inp = keras.Input((784,))
    x = inp
    for w in widths:
        x = layers.Dense(w, activation="relu")(x)
    x = layers.Dense(latent, activation="relu")(x)
    for w in reversed(widths):
        x = layers.Dense(w, activation="relu")(x)
    return keras.Model(inp, layers.Dense(784, activation="sigmoid")(x))


def conv():
    inp = keras.Input((28, 28, 1))
    x = inp
    for c in (16, 8, 8):
        x = layers.Conv2D(c, 3, activation="relu", padding="same")(x)
        x = layers.MaxPooling2D(2, padding="same")(x)  # 28 -> 14 -> 7 -> 4
    for c, pad in ((8, "same"), (8, "same"), (16, "valid")):
        x = layers.Conv2D(c, 3, activation="relu", padding=pad)(x)
        x = layers.UpSampling2D(2)(x)  # 4 -> 8 -> 16 -> (14) -> 28
    out = layers.Conv2D(1, 3, activation="sigmoid", padding="same")(x)
    return keras.Model(inp, out)


class Vae(keras.Model):
    def __init__(self, hidden=400, latent=20):
        super().__init__()
        self.enc = layers.Dense(hidden, activation="relu")
        self.mu = layers.Dense(latent)
        self.logvar = layers.Dense(latent)
        self.dec = layers.Dense(hidden, activation="relu")
        self.out = layers.Dense(784)
        self.loss_tracker = keras.metrics.Mean(name="loss")

    def call(self, x):
        h = self.enc(x)
        mu, logvar = self.mu(h), self.logvar(h)
        z = mu + tf.exp(0.5 * logvar) * tf.random.normal(tf.shape(mu))
        return self.out(self.dec(z)), mu, logvar

    def train_step(self, data):
        x = data[0] if isinstance(data, tuple) else data
        with tf.GradientTape() as tape:
            logits, mu, logvar = self(x, training=True)
            recon = tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits), axis=1)
            kl = -0.5 * tf.reduce_sum(1 + logvar - tf.square(mu) - tf.exp(logvar), axis=1)
            loss = tf.reduce_mean(recon + kl)
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    @property
    def metrics(self):
        return [self.loss_tracker]


class EpochTimer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seconds, self.losses = [], []

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.started)
        self.losses.append(float((logs or {}).get("loss", float("nan"))))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", choices=sorted(BATCH))
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch", type=int, help="default: the project's batch size for the model")
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args()
    batch = args.batch or BATCH[args.model]
    keras.utils.set_random_seed(args.seed)

    x, _ = mnist.load("train")
    if args.model == "conv-ae":
        x, model = x[..., None], conv()
    elif args.model == "vae":
        x, model = x.reshape(-1, 784), Vae()
    else:
        widths = [] if args.model == "dense-ae" else [128, 64]
        x, model = x.reshape(-1, 784), dense(widths, 32)
    optimizer = keras.optimizers.Adam(1e-3, epsilon=1e-8)
    if args.model == "vae":
        model.compile(optimizer=optimizer)
        fit_args = (x,)
    else:
        model.compile(optimizer=optimizer, loss="binary_crossentropy")
        fit_args = (x, x)
    timer = EpochTimer()
    model.fit(*fit_args, batch_size=batch, epochs=args.epochs, shuffle=True, verbose=0, callbacks=[timer])
    device = f"CPU x{os.cpu_count()}" if not tf.config.list_physical_devices("GPU") else "GPU"
    mnist.report(f"keras-{keras.__version__}/tf-{tf.__version__}", args.model, batch, device, timer.seconds, timer.losses)


if __name__ == "__main__":
    main()
