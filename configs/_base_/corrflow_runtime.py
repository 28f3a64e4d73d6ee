# The runtime of CorrFlow's training configs: the shared one, plus the reconstructions
# (input frames, colour targets, predictions) of one clip every 1000 iterations in
# TensorBoard, which only CorrFlow's RecursiveFlow keeps.
_base_ = ['./default_runtime.py']

custom_hooks = [
    dict(type='TrainProgressHook'),
    dict(type='ReconstructionVisualizationHook', interval=1000),
    dict(type='VideoProgressHook'),
    dict(type='PreciseBNHook', num_batches=40),
]
