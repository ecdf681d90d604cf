"""Localisation: the PRNet grid, training, model files, locate/offset/reconstruct, evaluation."""
