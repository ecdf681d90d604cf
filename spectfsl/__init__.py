"""spectfsl: few-shot tissue classification and anatomical localisation in SPECT."""

__version__ = "0.1.0"
