"""The pure core of spectfsl: image I/O, preprocessing, phantoms, datasets and models."""
