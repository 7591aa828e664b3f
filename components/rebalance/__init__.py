"""Rebalance: fixes class imbalance in the transformed train split with imbalanced-learn, on Beam."""
