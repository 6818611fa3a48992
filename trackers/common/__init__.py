"""Torch ops shared by both trackers (box ops, losses, PrRoIPool, checkpoint loading)."""
