# TimeCycle at a reduced cost on real unlabeled video, for a 2-core CPU: the 30
# DAVIS-2016 train sequences (frames at 24 fps, short side 256) plus the raw clips,
# sampled as TimeCycle's 12 fps frames. Give the folder that holds
# `davis2016-train-256/` and `raw-videos/` with --data-root.
#
# Reduced from the paper's recipe (configs/train/timecycle_r50.py):
#   - encoder: ResNet-18 to layer3 at stride 8 (256 channels, then the 1x1 conv to
#     512) instead of ResNet-50 (1024 channels): about 4x fewer FLOPs per frame;
#   - batch 4 instead of 36, and a schedule in iterations (see max_iters);
#   - the first 20 % of the iterations with the encoder frozen (only the projection
#     and the regressor learn), the workaround for runs from scratch that do not
#     converge.
# Frames, patches, losses, weights, optimiser and clipping are the paper's.
_base_ = ['./timecycle_r50.py']
max_iters = 1000
model = dict(
    backbone=dict(depth=18),
    neck=dict(in_channels=256),
    frozen_encoder_iters=max_iters // 5,
)
train_dataloader = dict(
    _delete_=True,
    batch_size=4,
    num_workers=1,
    persistent_workers=True,
    collate_fn=dict(type='corrflow.sample_list_collate'),
    sampler=dict(type='ResumableInfiniteSampler', shuffle=True),
    dataset=dict(
        type='ConcatDataset',
        datasets=[
            dict(type='TimeCycleVideoFolder', data_root=None,
                 data_prefix=dict(img='davis2016-train-256/JPEGImages'), frames_fps=24.0,
                 target_fps=12.0, pipeline={{_base_.timecycle_pipeline}}),
            dict(type='TimeCycleVideoFolder', data_root=None, data_prefix=dict(img='raw-videos'),
                 target_fps=12.0, pipeline={{_base_.timecycle_pipeline}}),
        ],
    ),
)
auto_scale_lr = dict(enable=False, base_batch_size=4)
test_config = 'configs/test/timecycle_r18_davis.py'
train_cfg = dict(_delete_=True, type='ResumableIterBasedTrainLoop', max_iters=max_iters)
log_processor = dict(by_epoch=False)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(by_epoch=False, interval=250, max_keep_ckpts=2),
)
