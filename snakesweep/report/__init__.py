"""Views of a finished sweep for people: plots (PNG) and summary.md, computed from the result files.

`analysis` holds the numbers (encoding, surrogate, importance, partial dependence), `plots` draws
them with matplotlib's Agg backend, `summary` writes the markdown summary. Nothing here imports
torch or Lightning.
"""
