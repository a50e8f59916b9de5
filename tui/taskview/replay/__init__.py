"""Replay: a timeline of events rebuilt from result files or a recorded journal, and a clock to play it.

Nothing here imports Textual: ``--replay --dump jsonl`` and the tests use it without a screen.
"""
