"""Talking to Celery: the app and its broker, enqueue, revoke, ping; demo tasks and an embedded worker.

Nothing in this package imports Textual. Import the modules you need
(``connection``, ``demo_tasks``, ``embedded``): importing Celery takes a while,
so this package itself imports nothing.
"""
