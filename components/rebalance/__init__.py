"""Rebalance: fixes class imbalance in transformed examples with imbalanced-learn, on Beam."""
