# The CorrFlow encoder (backbone + 64-d embedding) wrapped for label propagation.
# Protocol A (the paper): previous frame only, hard labels, R=6 at stride 4.
_base_ = ['./corrflow_r18.py']
model = dict(
    _delete_=True,
    type='LabelPropagator',
    backbone={{_base_.model.backbone}},
    neck={{_base_.model.neck}},
    propagation=dict(type='CorrFlowPropagation', radius=6),
    input_size=None,  # native resolution
    size_divisor=8,  # padded (bottom/right) to a multiple of 8; outputs cropped back
)
