# CRW's training samples (ajabri/videowalk, `--frame-aug grid`, default
# `--frame-transforms crop`): clips of 4 frames at about 8 fps, frames at short side
# 256; every frame gets its own random resized crop to 256x256 (area 0.8-0.95, aspect
# ratio 0.7-1.3), then is cut into a 7x7 grid of 64x64 windows every 32 pixels, each
# window with its own random resized crop back to 64x64 (area 0.7-0.9). No colour
# jitter, no flip. Normalisation happens in the model.
crw_pipeline = [
    dict(type='LoadClipFrames'),
    dict(type='RescaleClip', short_side=256),
    dict(type='RandomResizedCropClip', size=(256, 256), scale=(0.8, 0.95), ratio=(0.7, 1.3),
         per_frame=True),
    dict(type='PatchGrid', size=64, stride=32, scale=(0.7, 0.9)),
    dict(type='PackClipInputs'),
]
