"""Files: upload, listing, metadata, trash and the quotas that bound them."""
