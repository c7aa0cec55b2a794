"""What the tests share (imported as ``support.*``; ``tests`` is on pytest's path)."""
