"""What the tests share: sample files, driving the app, running the CLI, workers and brokers."""
