"""taskview: a terminal inspector for Celery's file-system result backend."""
