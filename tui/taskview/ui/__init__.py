"""The Textual app: a thin view of the store."""
