"""Encryption at rest: framed AES-256-GCM (``frames``) and data-key wrapping (``keys``)."""
