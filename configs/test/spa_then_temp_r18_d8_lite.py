# Spa-then-Temp ResNet-18 "d8" (spa_then_temp_r18_d8.py) under protocol B at the
# CPU-friendly cost of corrflow_davis_topk_lite.py: short side 240, +-6 cells at
# stride 8 (+-96 px at 480p), frame 0 + 5 preceding, top-10, temperature 0.07.
_base_ = ['./spa_then_temp_r18_d8.py']
model = dict(propagation=dict(radius=6, num_context=5), input_size=240)
