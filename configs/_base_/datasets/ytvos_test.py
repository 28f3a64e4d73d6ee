# YouTube-VOS 2018 / 2019 val (semi-supervised): one sample per video, each object
# tracked from its first annotated frame. data_root is the split folder holding
# JPEGImages/, Annotations/ and meta.json. The val ground truth is withheld: masks
# are written as Annotations/<video>/<frame>.png and zipped for the server. Set
# dataset.all_frames_root (tools/test.py --all-frames-root) to the 30 fps
# valid_all_frames split to propagate over every frame and write the listed ones.
task = 'ytvos'
data_root = 'data/YouTubeVOS/valid'
test_pipeline = [
    dict(type='LoadVideoFrames'),
    dict(type='LoadStartMasks'),
    dict(type='PackVideoInputs'),
]
test_dataloader = dict(
    batch_size=1,
    collate_fn=dict(type='corrflow.sample_list_collate'),
    num_workers=2,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='YouTubeVOSVideos',
        data_root=data_root,
        ann_file='meta.json',
        all_frames_root=None,
        pipeline=test_pipeline,
    ),
)
test_evaluator = dict(type='YouTubeVOSMetric')
test_cfg = dict(type='TestLoop')
