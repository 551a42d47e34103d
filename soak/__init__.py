"""The chaos soak (`make soak`): mixed exports of every type under random faults. See README.md."""
