# Procedural videos rendered on the fly (no download): textured objects moving,
# scaling and occluding each other over a moving textured background.
synthetic_pipeline = [
    dict(type='LoadSyntheticClip'),
    dict(type='QuantiseColour', centroids=None),
    dict(type='PackClipInputs'),
]
train_dataloader = dict(
    batch_size=6,
    collate_fn=dict(type='corrflow.sample_list_collate'),
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='ResumableInfiniteSampler', shuffle=True),
    dataset=dict(
        type='SyntheticVideos',
        num_videos=5000,
        num_frames=48,
        size=(256, 256),
        seed=0,
        clip_length=3,
        frame_stride=4,
        pipeline=synthetic_pipeline,
    ),
)
