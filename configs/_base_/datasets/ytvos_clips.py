_base_ = ['./clip_pipeline.py']
# YouTube-VOS 2018 train: JPEGImages/<video>/<name>.jpg, listed by a json
# {video: [frame names]} or the official meta.json. Its frames are already every
# 5th frame of 30 fps video (6 fps), so consecutive listed frames form a clip.
data_root = 'data/youtube-vos/train'
train_dataloader = dict(
    batch_size=6,
    collate_fn=dict(type='corrflow.sample_list_collate'),
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='YouTubeVOSClips',
        data_root=data_root,
        ann_file='meta.json',
        data_prefix=dict(img='JPEGImages'),
        clip_length=3,
        frame_stride=1,
        pipeline={{_base_.train_pipeline}},
    ),
)
