# CRW (Jabri, Owens & Efros, NeurIPS 2020), the reference's training command:
#   train.py --frame-aug grid --dropout 0.1 --clip-len 4 --temp 0.05
#            --model-type scratch --batch-size 20 --lr 0.0001
# Kinetics-400 (frames at short side 256), 4-frame clips at about 8 fps (every 4th
# frame of ~30 fps video; the reference resamples the videos to 8 fps), batch 20,
# Adam 1e-4 without weight decay, 25 epochs with the rate x0.3 after epoch 20.
# The reference samples 5 random clips per video and epoch; here an epoch is one pass
# over the non-overlapping clips of the list.
_base_ = [
    '../_base_/models/crw_r18.py',
    '../_base_/datasets/crw_pipeline.py',
    '../_base_/default_runtime.py',
]
train_dataloader = dict(
    batch_size=20,
    num_workers=16,
    persistent_workers=True,
    collate_fn=dict(type='corrflow.sample_list_collate'),
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='KineticsClips',
        data_root='data/kinetics',
        ann_file='kinetics_train.csv',
        data_prefix=dict(img='frames'),
        clip_length=4,
        frame_stride=4,
        pipeline={{_base_.crw_pipeline}},
    ),
)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.0),
)
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[20], gamma=0.3)]
auto_scale_lr = dict(enable=False, base_batch_size=20)
# what tools/train.py suggests to evaluate the run with (CRW's published protocol)
test_config = 'configs/test/crw_r18_davis.py'
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=25)
log_processor = dict(by_epoch=True)
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(by_epoch=True, interval=1, max_keep_ckpts=3),
)
custom_hooks = [dict(type='VideoProgressHook')]
