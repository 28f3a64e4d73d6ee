# TimeCycle training samples: 4 base frames 2 apart and a target frame 15 after the
# first (frames at 12 fps), plus a motion frame 2 after the target that only the patch
# choice uses; short side 256, one shared random 240x240 crop and horizontal flip; the
# 80x80 target patch (scale 1/3) among the 10 highest-motion windows of a 7x7 grid,
# rotated by up to +-45 degrees. ImageNet normalisation happens in the model.
timecycle_pipeline = [
    dict(type='LoadClipFrames'),
    dict(type='RescaleClip', short_side=256),
    dict(type='RandomCropClip', size=(240, 240)),
    dict(type='RandomFlipClip', prob=0.5),
    dict(type='TimeCyclePatch', scale=1 / 3, grid=7, num_candidates=10, max_rotation=45.0),
    dict(type='PackClipInputs'),
]
