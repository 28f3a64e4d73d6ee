# CorrFlow on VIP val, protocol B: 560x560 input, +-16 cells at stride 8
# (= +-32 at stride 4), frame 0 + 20 preceding frames, top-10, T=0.07.
_base_ = [
    '../_base_/models/corrflow_r18_propagator.py',
    '../_base_/datasets/vip_test.py',
    '../_base_/default_runtime.py',
]
model = dict(
    propagation=dict(
        _delete_=True,
        type='TopKMemoryPropagation',
        radius=32,
        num_context=20,
        topk=10,
        temperature=0.07),
    input_size=(560, 560),
)
