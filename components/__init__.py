"""trainguard's own TFX components, one folder each."""
