# Protocol B at a reduced cost for CPU runs: frame 0 + 5 preceding frames and
# radius 12 at stride 4 (+-48 px), instead of 20 frames and radius 24 — about
# 11x fewer affinities per query. Everything else as corrflow_davis_topk.py
# (short side 480, L2-normalised features, temperature 0.07, top-10, soft labels).
_base_ = ['./corrflow_davis_topk.py']
model = dict(propagation=dict(radius=12, num_context=5))
