# CorrFlow on DAVIS-2017 val with the paper's propagation (protocol A): native
# 480p, previous frame only, hard labels, R=6 at stride 4, no temperature.
_base_ = [
    '../_base_/models/corrflow_r18_propagator.py',
    '../_base_/datasets/davis_test.py',
    '../_base_/default_runtime.py',
]
