"""The pure core of spectfsl: plain Python over arrays and tensors, grouped by concern; it never
imports the commands, the terminal UI or the applications (`tests/test_structure.py` checks)."""
