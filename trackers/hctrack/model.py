"""The HCTrack network (Fig. 1): HFEI backbone + prediction head (+ training-only contrastive head).

Parameter prefixes: ``backbone.*`` (HFEI: patch embedding, position embeddings, SSA and CSA blocks,
final norm; these get ``train.backbone_lr_mult``), ``box_head.*``, ``contrastive_head.*``.
"""
from __future__ import annotations

from torch import Tensor, nn

from trackers.hctrack.config import HCTrackConfig
from trackers.hctrack.contrastive import ContrastiveHead
from trackers.hctrack.head import CenterHead, decode_boxes
from trackers.hctrack.hfei import HFEI, SearchFeatures, TemplateFeatures


class HCTrackModel(nn.Module):
    """HCTrack.

    Args:
        cfg: the full preset config.
        with_contrastive_head: build the training-only head (False for a pure inference graph).
    """

    def __init__(self, cfg: HCTrackConfig, with_contrastive_head: bool = True) -> None:
        super().__init__()
        m = cfg.model
        self.cfg = cfg
        self.backbone = HFEI(m, cfg.template_grid, cfg.search_grid, cfg.rip_center_size)
        self.box_head = CenterHead(m.embed_dim, m.head_channels, cfg.search_grid)
        self.contrastive_head = (
            ContrastiveHead(m.embed_dim, m.contrastive_dim, m.contrastive_roi, m.patch_size)
            if with_contrastive_head else None
        )

    def forward_template(self, template: Tensor, dynamic_template: Tensor) -> TemplateFeatures:
        """Template branch (cacheable): ``(B, 3, Tz, Tz)`` x 2 -> `TemplateFeatures`."""
        return self.backbone.forward_template(template, dynamic_template)

    def _predict(self, search: Tensor, tf: TemplateFeatures) -> tuple[dict[str, Tensor], SearchFeatures]:
        sf = self.backbone.forward_search(search, tf)
        score, offset, size = self.box_head(sf.tokens)
        boxes, _ = decode_boxes(score, offset, size)
        keep = sf.keep if sf.keep is not None else sf.tokens.new_ones(sf.tokens.shape[:2], dtype=bool)
        out = {"score_map": score, "offset_map": offset, "size_map": size, "pred_boxes": boxes, "keep_mask": keep}
        return out, sf

    def forward_search(self, search: Tensor, tf: TemplateFeatures) -> dict[str, Tensor]:
        """Search branch + prediction head.

        Args:
            search: ``(B, 3, Sx, Sx)`` ImageNet-normalised.
            tf: template features of the same batch.
        Returns:
            dict with ``score_map (B,1,F,F)`` in (0,1), ``offset_map (B,2,F,F)``, ``size_map (B,2,F,F)``,
            ``pred_boxes (B,4)`` cxcywh normalised to the crop (decoded at the score argmax),
            ``keep_mask (B, F*F)`` bool (all True without RIP).
        """
        return self._predict(search, tf)[0]

    def forward_track(self, search: Tensor, tf: TemplateFeatures, window: Tensor | None = None) -> dict[str, Tensor]:
        """What the online tracker needs: search branch + `CenterHead.predict_peak`.

        Args:
            search: ``(B, 3, Sx, Sx)``; tf: template features; window: ``(F, F)`` ranking window
                (the Hann window) or None.
        Returns:
            dict with ``score_map (B,1,F,F)`` (un-windowed) and ``pred_boxes (B,4)`` cxcywh
            normalised to the crop, decoded at the argmax of ``score_map * window``.
        """
        sf = self.backbone.forward_search(search, tf)
        score, boxes = self.box_head.predict_peak(sf.tokens, window)
        return {"score_map": score, "pred_boxes": boxes}

    def forward(
        self,
        template: Tensor,
        dynamic_template: Tensor,
        search: Tensor,
        template_box: Tensor | None = None,
        dynamic_template_box: Tensor | None = None,
        search_box: Tensor | None = None,
    ) -> dict[str, Tensor]:
        """Training forward.

        Args:
            template, dynamic_template: ``(B, 3, Tz, Tz)``; search: ``(B, 3, Sx, Sx)``.
            template_box, dynamic_template_box, search_box: ``(B, 4)`` xywh in crop pixels. When
                `template_box` and `search_box` are given and the contrastive head exists, the
                output has ``embeddings (V, B, D)``: V = 3 (T, DT, S) or 2 (T, S) when
                `dynamic_template_box` is None (DT excluded from the contrastive set).
        Returns:
            `forward_search`'s dict (+ ``embeddings``).
        """
        tf = self.forward_template(template, dynamic_template)
        out, sf = self._predict(search, tf)
        if self.contrastive_head is not None and template_box is not None and search_box is not None:
            nz = tf.tap.shape[1] // 2
            maps, boxes = [tf.tap[:, :nz]], [template_box]
            if dynamic_template_box is not None:
                maps.append(tf.tap[:, nz:])
                boxes.append(dynamic_template_box)
            maps.append(sf.tap)
            boxes.append(search_box)
            out["embeddings"] = self.contrastive_head(maps, boxes)
        return out
