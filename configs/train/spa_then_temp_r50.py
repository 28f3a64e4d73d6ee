# Spa-then-Temp's temporal stage with ResNet-50, the reference's recipe: YouTube-VOS
# 2018 train (its 6 fps frames, pairs of consecutive frames), batch 16 per GPU on 4
# GPUs, Adam 5e-5 on the student only, cosine per iteration down to 0.001x over 800
# epochs with a linear warm-up over the first 20 epochs, SyncBN.
#
# The schedule is set by the total batch: it is counted in epochs (one pass over the
# pairs), so the number of iterations follows from the number of processes x the
# batch per process; the log states both. The reference draws one random pair per
# video per epoch (3,471 per epoch); here every consecutive pair of every video is a
# sample, so one epoch holds more pairs: set max_epochs to the samples you want
# (800 x 3,471 pairs = 2.78 M in the reference).
_base_ = [
    '../_base_/models/spa_then_temp_r50.py',
    '../_base_/datasets/spa_then_temp_pairs.py',
    '../_base_/default_runtime.py',
]
train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    collate_fn=dict(type='corrflow.sample_list_collate'),
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='YouTubeVOSClips',
        data_root='data/youtube-vos/train',
        ann_file='frames.json',  # tools/data/build_lists.py ytvos (or the official meta.json)
        clip_length=2,
        frame_stride=1,
        pipeline={{_base_.pair_pipeline}},
    ),
)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=5e-5, betas=(0.9, 0.999), weight_decay=0.0),
)  # the frozen teacher has no gradient, so only the student moves
max_epochs = 800
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=True, begin=0, end=20,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min_ratio=0.001, by_epoch=True, begin=0,
         end=max_epochs, T_max=max_epochs, convert_to_iter_based=True),
]
auto_scale_lr = dict(enable=False, base_batch_size=64)
# what tools/train.py suggests to evaluate the student with (protocol B, d8)
test_config = 'configs/test/spa_then_temp_r50_d8.py'
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
log_processor = dict(by_epoch=True)
sync_bn = 'torch'
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(by_epoch=True, interval=50, max_keep_ckpts=3),
)
custom_hooks = [dict(type='VideoProgressHook')]
