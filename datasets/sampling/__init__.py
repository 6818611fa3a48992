"""Training-sample selection: which videos and frames make each sample, reproducibly.

* `frames`: causal frame selection (OSTrack / DiMP) and the trainability rule;
* `mixture`: data sets mixed by ratio, video ids;
* `seeding`: one numpy Generator per (seed, epoch, item);
* `order`: which items each rank draws at each step (a torch Sampler);
* `dataset`: the torch Dataset of video groups (P samples of one video) and its collate.
"""
from datasets.sampling.dataset import GroupCollate, GroupedSampleDataset
from datasets.sampling.frames import CausalFrames, FrameSamplingConfig, causal_frame_ids, is_trainable, usable_frames
from datasets.sampling.mixture import DatasetMixture, DrawnVideo
from datasets.sampling.order import EpochGroupOrder
from datasets.sampling.seeding import sample_rng

__all__ = [
    "CausalFrames", "FrameSamplingConfig", "causal_frame_ids", "is_trainable", "usable_frames",
    "DatasetMixture", "DrawnVideo", "EpochGroupOrder", "GroupCollate", "GroupedSampleDataset",
    "sample_rng",
]
