"""Compiling the pipeline for Kubeflow Pipelines."""
