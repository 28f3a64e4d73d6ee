# TimeCycle on DAVIS-2017 val with its own protocol (see the model base config).
# Published (the release, DAVIS-2017 val J / F): 320: 0.419 / 0.394; 400: 0.430 /
# 0.426; 480: 0.464 / 0.500 (--cfg-options model.input_size=[480,480]).
_base_ = [
    '../_base_/models/timecycle_r50_propagator.py',
    '../_base_/datasets/davis_test.py',
    '../_base_/default_runtime.py',
]
