"""TensorFlow Decision Forests' gradient-boosted trees and their `run_fn` (`--model gradient_boosted_trees`)."""
