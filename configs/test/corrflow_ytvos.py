# CorrFlow on YouTube-VOS val with the paper's propagation (protocol A): native
# resolution, previous frame only, hard labels, R=6 at stride 4, no temperature.
# An object that starts mid-video has its mask pasted in at its first frame and is
# copied on from there. CorrFlow's published 2018 val result: overall 46.6.
_base_ = [
    '../_base_/models/corrflow_r18_propagator.py',
    '../_base_/datasets/ytvos_test.py',
    '../_base_/default_runtime.py',
]
# corrflow's rules: no reference defines objects that start after frame 0
model = dict(propagation=dict(preset='centred'))
