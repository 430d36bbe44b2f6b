"""Per-backend setup, capacity models and job scripts."""
