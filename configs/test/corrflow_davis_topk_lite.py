# Protocol B at a reduced cost, for CPU runs, under the 'centred' rules of
# corrflow_davis_topk.py (the earlier "B-lite" numbers; CRW's rules:
# corrflow_davis_crw_lite.py): frames resized to short side 240,
# radius 12 at stride 4 (+-48 px at 240p, the +-96 px at 480p of the standard
# +-12 cells at stride 8) and frame 0 + 5 preceding frames instead of 20. Top-10,
# temperature 0.07, L2-normalised features and soft labels as in
# corrflow_davis_topk.py; masks are read out and scored at the original 480p.
# About 8x fewer affinities and 4x fewer backbone FLOPs per frame than the
# full setting.
_base_ = ['./corrflow_davis_topk.py']
model = dict(propagation=dict(radius=12, num_context=5), input_size=240)
