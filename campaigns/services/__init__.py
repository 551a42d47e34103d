"""Writes of campaign data."""

from campaigns.services.demo_data import DemoSummary, ProgressCallback, demo_dataset_create

__all__ = ["DemoSummary", "ProgressCallback", "demo_dataset_create"]
