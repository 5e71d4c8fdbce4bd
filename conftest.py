"""Repository-wide pytest setup."""

import os

# Keras 3 needs a backend before it is imported (doctest collection imports lrkit.integrations.keras);
# TensorFlow is not installed here, so default to the torch backend.
os.environ.setdefault("KERAS_BACKEND", "torch")
