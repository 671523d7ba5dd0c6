"""What happened, read back: replay of an instance from its audit record (engine/store/audit.py) and the heatmap."""
