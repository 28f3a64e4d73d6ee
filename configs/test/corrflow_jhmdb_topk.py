# CorrFlow on JHMDB split-1 test, protocol B: 320x320 input, +-5 cells at
# stride 8 (= +-10 at stride 4), frame 0 + 20 preceding frames, top-10, T=0.07.
# Seeds: Gaussians of sigma 4 px at the original resolution; read-out:
# soft-argmax over the top-5 cells; PCK skips frame 0.
_base_ = [
    '../_base_/models/corrflow_r18_propagator.py',
    '../_base_/datasets/jhmdb_test.py',
    '../_base_/default_runtime.py',
]
model = dict(
    propagation=dict(
        _delete_=True,
        type='TopKMemoryPropagation',
        radius=10,
        num_context=20,
        topk=10,
        temperature=0.07),
    input_size=(320, 320),
    keypoint_sigma=4.0,
    keypoint_topk=5,
)
