"""Monitoring the pipeline from outside the processes: consumer lag."""
