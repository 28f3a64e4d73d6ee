_base_ = ['./clip_pipeline.py']
# OxUvA dev+test frames as <data_root>/images/<vid>/%06d.jpeg; the list holds
# `vidNNNN,num_frames` lines (337 videos, 1,379,112 frames).
data_root = 'data/oxuva'
train_dataloader = dict(
    batch_size=6,
    collate_fn=dict(type='corrflow.sample_list_collate'),
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='OxUvAClips',
        data_root=data_root,
        ann_file='oxuva_train.csv',
        data_prefix=dict(img='images'),
        clip_length=3,
        frame_stride=4,
        pipeline={{_base_.train_pipeline}},
    ),
)
