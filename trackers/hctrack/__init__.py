"""HCTrack: hybrid contrastive transformer tracker (HFEI with SSA/CSA, RIP, contrastive head, dynamic template).

Modules: `config` (presets), `association` (Fig. 4 modes), `attention`, `blocks` (SSA/CSA),
`rip`, `hfei` (backbone), `head` (centre head, decoding, Hann), `contrastive` (training-only
head), `model`, `actor` (Eq. 5), `pretrained` (MAE remap), `tracker` (online), `api`.
"""
