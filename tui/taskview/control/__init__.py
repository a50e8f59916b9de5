"""Talking to Celery, one job a module: ``secrets`` (passwords masked), ``app_loading``
(``-A``/``-b`` as Celery finds them), ``controller`` (enqueue, revoke, ping, bounded
and never raising), ``stale`` (STARTED tasks whose worker is gone), ``demo_tasks``,
``embedded`` (the --demo worker), ``atomic_fs`` (kombu's filesystem broker) and ``compat``
(what older Celery and kombu versions lack).

Nothing in this package imports Textual. Importing Celery takes a while, so this
package itself imports nothing: import the module you need.
"""
