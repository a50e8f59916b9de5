"""One widget a module: the task table, the detail pane, the summary and timeline bars."""
