# CRW at a reduced cost on real unlabeled video, for a 2-core CPU: the 30 DAVIS-2016
# train sequences (24 fps frames, short side 256) plus the raw clips, as 4-frame clips
# at 8 fps with CRW's patch grid (7x7 patches of 64x64 on 256x256 frames). Give the
# folder that holds `davis2016-train-256/` and `raw-videos/` with --data-root.
#
# Reduced from crw_r18.py (Kinetics, batch 20, 25 epochs):
#   - the encoder is trained to layer3 (output stride 8, 256 channels into the
#     linear head) instead of through layer4 at stride 1: the test uses layer3 alone,
#     and layer4 at stride 1 costs two thirds of a training step (measured 6.2 s
#     against 2.2 s for the 196 patches of one clip, forward and backward, one thread);
#   - batch 2 and 1,000 iterations (2,000 clips, about 7 passes over the 292 clips);
#     Adam 3e-4 (the reference's suggestion for larger batches, for a run this short)
#     halved at 60 % and 80 %.
# Data sampling, patch grid, augmentation, temperature, edge dropout and walks are
# the reference's.
_base_ = ['./crw_r18.py']
max_iters = 1000
model = dict(
    backbone=dict(out_stage=3),
    head=dict(in_channels=256),
)
train_dataloader = dict(
    _delete_=True,
    batch_size=2,
    num_workers=1,
    persistent_workers=True,
    collate_fn=dict(type='corrflow.sample_list_collate'),
    sampler=dict(type='ResumableInfiniteSampler', shuffle=True),
    dataset=dict(
        type='ConcatDataset',
        datasets=[
            dict(type='VideoFolder', data_root=None,
                 data_prefix=dict(img='davis2016-train-256/JPEGImages'), frames_fps=24.0,
                 target_fps=8.0, clip_length=4, pipeline={{_base_.crw_pipeline}}),
            dict(type='VideoFolder', data_root=None, data_prefix=dict(img='raw-videos'),
                 target_fps=8.0, clip_length=4, pipeline={{_base_.crw_pipeline}}),
        ],
    ),
)
optim_wrapper = dict(optimizer=dict(lr=3e-4))
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=False, milestones=[max_iters * 3 // 5, max_iters * 4 // 5],
         gamma=0.5),
]
auto_scale_lr = dict(enable=False, base_batch_size=2)
test_config = 'configs/test/crw_r18_davis.py'
train_cfg = dict(_delete_=True, type='ResumableIterBasedTrainLoop', max_iters=max_iters)
log_processor = dict(by_epoch=False)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(by_epoch=False, interval=200, max_keep_ckpts=2),
)
custom_hooks = [
    dict(type='VideoProgressHook'),
    dict(type='PreciseBNHook', num_batches=40),  # see default_runtime.py
]
