"""What the screens show, decided without Textual: row order, filter progress, visible counts."""
