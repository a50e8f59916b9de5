"""Celery's file result backend, read exactly as the workers wrote it. No Textual here."""
