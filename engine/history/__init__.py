"""What happened: the hash-chained audit log, the stored state's hash, replay and the heatmap."""
