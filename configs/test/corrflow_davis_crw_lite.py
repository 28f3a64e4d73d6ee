# corrflow_davis_crw.py (CRW's rules) at a reduced cost, for CPU runs ("B-lite"): short
# side 240, radius 12 at stride 4 (+-48 px at 240p, the +-96 px at 480p of the
# standard +-12 cells at stride 8), frame 0 + 5 preceding frames instead of 20 (the
# video front-padded with 5 copies of frame 0); top-10, temperature 0.07.
_base_ = ['./corrflow_davis_crw.py']
model = dict(propagation=dict(radius=12, num_context=5), input_size=240)
