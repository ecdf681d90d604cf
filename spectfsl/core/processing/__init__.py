"""Imaging: intensity normalisation and resampling, the heart finder, wall-derived masks."""
