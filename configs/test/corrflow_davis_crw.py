# CorrFlow on DAVIS-2017 val with protocol B as CRW's code runs it (ajabri/videowalk,
# the protocol of CRW, VFS and their successors): short side 480, frame 0 + 20
# preceding frames, L2-normalised features, temperature 0.07, top-10, soft labels, and
# CRW's rules: frame 0 unrestricted, the rest within a disc of radius 24 cells at
# stride 4 (12 at stride 8), the video front-padded with 20 copies of frame 0, bilinear
# seed and read-out (TOPK_PRESETS['crw'] in corrflow/models/trackers/protocols.py).
_base_ = ['./corrflow_davis.py']
model = dict(
    propagation=dict(
        _delete_=True,
        type='TopKMemoryPropagation',
        preset='crw',
        radius=24,  # +-12 cells at stride 8 = +-96 px = +-24 cells at stride 4
        num_context=20,
        topk=10,
        temperature=0.07),
    input_size=480,  # short side 480, aspect ratio kept
)
