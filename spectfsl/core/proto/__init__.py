"""Few-shot classification: prototypes, episodes, banks, fit/predict workflows, evaluation, OOD."""
