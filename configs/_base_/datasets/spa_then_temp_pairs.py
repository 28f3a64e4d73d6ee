# Spa-then-Temp training pairs: consecutive frames of 6 fps video, one random crop of
# 60-100 % of the frame's area and aspect ratio (width / height) 1.5-2 shared by the
# pair (20 draws, then the centred square), resized to 256x256, one shared horizontal
# flip (p = 0.5). No colour jitter; Lab conversion and channel dropout are the model's.
pair_pipeline = [
    dict(type='LoadClipFrames'),
    dict(type='RandomResizedCropClip', size=(256, 256), scale=(0.6, 1.0), ratio=(1.5, 2.0),
         attempts=20, fallback='square'),
    dict(type='RandomFlipClip', prob=0.5),
    dict(type='PackClipInputs'),
]
