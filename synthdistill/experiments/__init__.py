"""Experiments: learning-curve grids of students by training size and data source, and the paper's
reproduction.

`config` (the experiment YAML), `planning` (cells and their keys), `runner` (training and scoring cells,
the teacher line), `store` (finished cells in SQLite), `executors` (local processes or Ray), `curves`
(means, intervals, crossovers), `report` with `plots` and `page` (Markdown, SVG, HTML), `reproduction`
(the paper's grid), `sharding` (generation split across workers).
"""
