"""Where changes come from: the directory tail (inotify or polling)."""
