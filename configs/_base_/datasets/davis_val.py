# DAVIS validation during training: J&F on a few sequences every `val_interval`
# iterations (set train_cfg.val_interval in the leaf config), logged to
# TensorBoard.
val_dataloader = dict(
    batch_size=1,
    num_workers=1,
    persistent_workers=False,
    collate_fn=dict(type='corrflow.sample_list_collate'),
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='DAVISVideos',
        data_root='data/DAVIS',
        ann_file='ImageSets/2017/val.txt',
        sequences=['blackswan', 'car-shadow', 'dog'],
        pipeline=[
            dict(type='LoadVideoFrames'),
            dict(type='LoadFirstFrameMask'),
            dict(type='PackVideoInputs'),
        ],
    ),
)
val_evaluator = dict(type='DAVISMetric', out_dir=None)
val_cfg = dict(type='ValLoop')
# keep the best checkpoint with, in the leaf config:
# default_hooks = dict(checkpoint=dict(save_best='davis/J&F-Mean', rule='greater'))
