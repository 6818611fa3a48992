"""CIA (Pi et al., ECCV 2022, "Hierarchical Feature Embedding for Visual Tracking"): a DiMP tracker
with an instance-aware module (momentum-contrast InfoNCE-V + angle modulation) and a
category-aware module (category classifier + transformer category encoder).

Family API in `trackers.cia.api`; presets in `trackers.cia.config`.
"""
