"""Generation: the teacher writes labelled samples.

Planning requests from the spec (`planning`), parsing answers into samples (`parsing`), the rounds that
ask and collect (`samples`), the optional strategies (`label_summaries`, `self_revision`, taboo words in
`samples`), the filters that drop bad samples (`filters`, `language_id`, `near_duplicates`) and the
dataset card that describes what was kept (`dataset_card`).
"""
