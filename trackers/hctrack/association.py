"""Which template features each CSA block attends to (paper Fig. 3 and the Fig. 4 ablation).

Notation. Template *level* ``j`` = the ``[T ; DT]`` tokens after ``j`` SSA blocks of the template
branch (``j = 0``: patch embedding + position; ``j = L``: the final ``t_o, d_o``). The CSA block of
1-based layer ``i`` receives the search tokens ``s_{i-1}`` produced by layer ``i - 1``; the
"current layer" template of that block is the template at the *same depth*, level ``i - 1``. This is
what Sec. 3.2 describes for the first CSA (layer 7): it is fed ``s_m``, ``t_m``, ``d_m`` (all after
6 blocks) and ``t_o``, ``d_o`` (after 9). Its queries are ``s_{i-1}``; its keys/values are::

    concat[ s_{i-1} ; template levels of the mode ]      (each level = 2 * Nz tokens, T then DT)

Modes (Fig. 4 / Table 3), for layer i of an L-layer model:

==================  =====  =======================================================================
mode                Fig.4  template levels in the keys/values
==================  =====  =======================================================================
``last``            (a)    L                          (t_o, d_o only; the "no CSA" baseline)
``current``         (b)    i - 1                      (same depth as the search input)
``penultimate``     (c)    L - 1
``last+previous``   (d)    L, i - 2                   (the layer before the current one)
``last+next``       (e)    L, i                       (the layer after the current one)
``last+current``    (f)    L, i - 1                   (the paper's CSA, default)
==================  =====  =======================================================================

A level that appears twice (``last+next`` at i = L gives L twice) is used once: duplicated keys
would only re-weight the softmax. Every level is between 0 and L.
"""
from __future__ import annotations

ASSOCIATION_MODES = ("last", "current", "penultimate", "last+previous", "last+next", "last+current")

#: Fig. 4 panel letter -> mode name.
FIGURE4_MODES = {
    "a": "last", "b": "current", "c": "penultimate", "d": "last+previous", "e": "last+next", "f": "last+current",
}


def template_levels(mode: str, layer: int, depth: int) -> tuple[int, ...]:
    """Template levels whose tokens join the keys/values of the CSA block at 1-based `layer`.

    Args:
        mode: one of `ASSOCIATION_MODES` (or a Fig. 4 letter "a".."f").
        layer: the CSA block's layer, 2 <= layer <= depth.
        depth: number of encoder layers L.
    Returns:
        distinct levels in key order, e.g. ``("last+current", 7, 9) -> (9, 6)``.
    """
    mode = FIGURE4_MODES.get(mode, mode)
    if mode not in ASSOCIATION_MODES:
        raise ValueError(f"unknown association mode {mode!r}; expected one of {ASSOCIATION_MODES}")
    if not 2 <= layer <= depth:
        raise ValueError(f"CSA layer {layer} must be in [2, depth={depth}]")
    cur = layer - 1
    table = {
        "last": (depth,),
        "current": (cur,),
        "penultimate": (depth - 1,),
        "last+previous": (depth, cur - 1),
        "last+next": (depth, cur + 1),
        "last+current": (depth, cur),
    }
    return tuple(dict.fromkeys(table[mode]))


def required_template_levels(
    mode: str, depth: int, first_csa_layer: int, contrastive_layer: int, rip_layer: int | None
) -> frozenset[int]:
    """Every template level some consumer reads: the CSA keys/values of each layer, the
    contrastive tap, RIP's centre queries (level ``rip_layer - 1``) and the SSA blocks the search
    branch shares (``first_csa_layer - 1``). The HFEI builds ``max`` of these template blocks."""
    needed = {contrastive_layer, first_csa_layer - 1}
    for layer in range(first_csa_layer, depth + 1):
        needed.update(template_levels(mode, layer, depth))
    if rip_layer is not None:
        needed.add(rip_layer - 1)
    return frozenset(needed)
