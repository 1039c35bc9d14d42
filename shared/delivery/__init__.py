"""HTTP delivery helpers (ranges, preconditions, Content-Disposition), free of any web framework."""
