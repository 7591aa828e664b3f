"""Model code named by module path in the pipeline: preprocessing and the Keras trainer."""
