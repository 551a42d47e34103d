"""The export hot-path benchmark (`make bench`, bench/run.py; see bench/README.md)."""
