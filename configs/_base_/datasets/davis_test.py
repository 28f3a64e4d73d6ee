# DAVIS-2017 val, semi-supervised: one sample per sequence, official layout.
task = 'davis'
data_root = 'data/DAVIS'
test_pipeline = [
    dict(type='LoadVideoFrames'),
    dict(type='LoadFirstFrameMask'),
    dict(type='PackVideoInputs'),
]
test_dataloader = dict(
    batch_size=1,
    collate_fn=dict(type='corrflow.sample_list_collate'),
    num_workers=2,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='DAVISVideos',
        data_root=data_root,
        ann_file='ImageSets/2017/val.txt',
        resolution='480p',
        pipeline=test_pipeline,
    ),
)
test_evaluator = dict(type='DAVISMetric')
test_cfg = dict(type='TestLoop')
