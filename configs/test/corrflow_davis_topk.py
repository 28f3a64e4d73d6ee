# CorrFlow on DAVIS-2017 val with the standard protocol B (CRW / VFS lineage):
# short side 480, frame 0 + 20 preceding frames, L2-normalised features,
# temperature 0.07, top-10 over all context keys, soft labels.
_base_ = ['./corrflow_davis.py']
model = dict(
    propagation=dict(
        _delete_=True,
        type='TopKMemoryPropagation',
        radius=24,  # +-12 cells at stride 8 = +-96 px = +-24 cells at stride 4
        num_context=20,
        topk=10,
        temperature=0.07),
    input_size=480,  # short side 480, aspect ratio kept
)
