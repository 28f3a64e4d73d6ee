# VIP (VIP_Fine) val: 20 human-part classes, mIoU.
task = 'vip'
data_root = 'data/VIP_Fine'
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
        type='VIPVideos',
        data_root=data_root,
        ann_file='lists/val_videos.txt',
        pipeline=test_pipeline,
    ),
)
test_evaluator = dict(type='VIPMetric', num_classes=20)
test_cfg = dict(type='TestLoop')
