"""`spectfsl demo`: the whole pipeline on the built-in phantom and any real data found, with a report."""
