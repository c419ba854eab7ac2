"""The funnels API (being written)."""
