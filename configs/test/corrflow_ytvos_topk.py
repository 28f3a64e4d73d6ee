# CorrFlow on YouTube-VOS val with the standard protocol B (CRW / VFS lineage), as
# corrflow_davis_topk.py: short side 480, L2-normalised features, temperature
# 0.07, top-10 over the first frame and 20 preceding frames, soft labels. Every
# frame where an object starts stays in the context, as the first frame does.
_base_ = ['./corrflow_ytvos.py']
model = dict(
    propagation=dict(
        _delete_=True,
        type='TopKMemoryPropagation',
        radius=24,  # +-12 cells at stride 8 = +-24 cells at stride 4
        num_context=20,
        topk=10,
        temperature=0.07,
        # corrflow's rules: no reference defines objects that start after frame 0
        preset='centred'),
    input_size=480,  # short side 480, aspect ratio kept
)
