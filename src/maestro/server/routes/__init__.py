"""One module per resource; each exports ``ENDPOINTS``."""
