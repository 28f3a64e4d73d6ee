# JHMDB split-1 test (268 videos), 15 joints per frame.
task = 'jhmdb'
data_root = 'data/JHMDB'
test_pipeline = [
    dict(type='LoadVideoFrames'),
    dict(type='LoadJHMDBKeypoints'),
    dict(type='PackVideoInputs'),
]
test_dataloader = dict(
    batch_size=1,
    collate_fn=dict(type='corrflow.sample_list_collate'),
    num_workers=2,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='JHMDBVideos',
        data_root=data_root,
        # the list ships with the code; "" evaluates every video under data_root
        ann_file='{{fileDirname}}/../../../data/data_info/jhmdb_split1_test.txt',
        pipeline=test_pipeline,
    ),
)
test_evaluator = dict(type='JHMDBMetric', alphas=(0.1, 0.2))
test_cfg = dict(type='TestLoop')
