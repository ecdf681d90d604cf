"""Data: the synthetic phantom, scans paired with their labels, and the 2D datasets `prepare` writes."""
