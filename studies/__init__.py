"""The masked-vs-unmasked study: our models and a peer nobody here wrote, scored on the same faces."""
