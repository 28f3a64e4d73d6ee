# Training clips: 3 frames, 256x256 ignoring aspect ratio, no crop or flip;
# targets are the nearest of the 16 Kinetics (a, b) centroids.
train_pipeline = [
    dict(type='LoadClipFrames'),
    dict(type='ResizeClip', size=(256, 256)),
    dict(type='QuantiseColour', centroids=None),
    dict(type='PackClipInputs'),
]
