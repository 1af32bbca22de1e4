"""Evaluation: the teacher as a classifier (every setting, chosen on dev) and the scores and reports that
put students beside it on human-labelled test data."""
