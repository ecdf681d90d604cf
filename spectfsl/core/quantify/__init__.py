"""Quantification of myocardial perfusion: the LV long axis, the polar map and 17 AHA segments."""
