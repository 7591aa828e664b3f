"""Beam helpers shared by the components, in TFX's `tfx/components/util/` shape."""
