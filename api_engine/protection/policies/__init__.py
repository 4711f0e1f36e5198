"""Data files: the retention policy and the minimisation declarations (TOML), shipped with the package."""
