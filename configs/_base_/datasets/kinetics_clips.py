_base_ = ['./clip_pipeline.py']
# Kinetics frames extracted as <data_root>/frames/<class>/<video>/image_%05d.jpg;
# the list holds `relative_video_dir,num_frames` lines (tools/data/build_lists.py).
data_root = 'data/kinetics'
train_dataloader = dict(
    batch_size=6,
    collate_fn=dict(type='corrflow.sample_list_collate'),
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='KineticsClips',
        data_root=data_root,
        ann_file='kinetics_train.csv',
        data_prefix=dict(img='frames'),
        clip_length=3,
        frame_stride=4,
        pipeline={{_base_.train_pipeline}},
    ),
)
