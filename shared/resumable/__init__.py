"""Resumable uploads: the specification's chunk protocol and tus 1.0, on one byte path."""
