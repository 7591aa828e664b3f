"""DataGuard: TFDV validation with environments, serving and previous-span statistics, as a gate."""
