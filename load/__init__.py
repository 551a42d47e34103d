"""The API load test (`make load`): load/run.py runs load/locustfile.py with locust."""
