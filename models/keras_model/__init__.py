"""The Keras model and its `run_fn`."""
