# CRW's ResNet-18 under B-lite (CRW's rules), the reduced-cost protocol every model-zoo
# entry is scored with: short side 240, +-6 cells at stride 8 (+-48 px at 240p, the
# +-96 px at 480p of the standard +-12 cells), frame 0 + 5 preceding frames, top-10,
# temperature 0.07 (CRW's test-code default, as for the other methods' B-lite rows).
_base_ = ['./crw_r18_davis.py']
model = dict(propagation=dict(radius=6, num_context=5, temperature=0.07), input_size=240)
