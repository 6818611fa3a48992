"""Trackers: HCTrack (`trackers.hctrack`), CIA (`trackers.cia`) and the torch ops both use
(`trackers.common`). Presets are looked up through `trackers.registry`."""
