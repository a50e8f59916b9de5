"""What a whole directory says at once: per-name figures, grouped errors, time buckets, suspects.

No Textual here: the insights screen, the summary's throughput line and the headless
``--stats`` breakdowns all read it. ``aggregates.Insights`` is kept by the store as
records come, change and go (``Store.add``/``remove``/``add_scanned``).
"""
