"""Privacy by design: the data inventory and what it drives (notice, export, erasure, retention)."""
