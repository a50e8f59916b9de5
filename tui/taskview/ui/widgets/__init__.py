"""One widget a module: the task table, the detail pane, the summary and timeline bars, an Input
that keeps keys in the order typed."""
