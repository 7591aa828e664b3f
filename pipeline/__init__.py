"""The trainguard pipeline: one `create_pipeline`, its defaults, and thin runners."""
