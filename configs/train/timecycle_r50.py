# TimeCycle (Wang, Jabri & Efros, CVPR 2019), the paper's recipe: VLOG frames at 12 fps
# (list lines "<frame folder> <num_frames>", frames %06d.jpg from 1), batch 36, Adam
# 2e-4 with betas (0.5, 0.999), no schedule, gradient norm clipped at 10, 30 epochs
# (the released model is epoch 14). Losses 0.02 x long cycles + 0.1 x skip cycles +
# 1 x inlier similarity.
#
# From scratch this recipe often does not converge (the release's users report
# losses that do not fall). Their workaround, a first phase with the encoder frozen
# (only the 1x1 projection and the regressor learn), is
#   --cfg-options model.frozen_encoder_iters=N
# (N iterations; the log shows encoder_frozen 1 while it lasts).
_base_ = [
    '../_base_/models/timecycle_r50.py',
    '../_base_/datasets/timecycle_pipeline.py',
    '../_base_/default_runtime.py',
]
train_dataloader = dict(
    batch_size=36,
    num_workers=12,
    persistent_workers=True,
    collate_fn=dict(type='corrflow.sample_list_collate'),
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='VLOGClips',
        data_root='data/vlog',
        ann_file='vlog_frames_12fps.txt',
        data_prefix=dict(img='frames_12fps'),
        filename_tmpl='{:06d}.jpg',
        start_index=1,
        pipeline={{_base_.timecycle_pipeline}},
    ),
)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=2e-4, betas=(0.5, 0.999), weight_decay=0.0),
    clip_grad=dict(max_norm=10.0),
)
param_scheduler = []
auto_scale_lr = dict(enable=False, base_batch_size=36)
# what tools/train.py suggests to evaluate the run with (TimeCycle's own protocol)
test_config = 'configs/test/timecycle_davis.py'
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=30)
log_processor = dict(by_epoch=True)
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(by_epoch=True, interval=1, max_keep_ckpts=3),
)
# TrainProgressHook: the frozen-encoder phase (model.frozen_encoder_iters) ends by iteration
custom_hooks = [dict(type='TrainProgressHook'), dict(type='VideoProgressHook')]
