"""Function blueprints: one module per resource, each function a thin adapter to ``shared``."""
