# CorrFlow trained on real unlabeled video: the 30 DAVIS-2016 train sequences
# (frames at 24 fps, short side 256) plus the raw clips of shared/data/raw-videos,
# sampled at 6 fps (3-frame clips). Give the folder that holds
# `davis2016-train-256/` and `raw-videos/` with --data-root.
#
# Reduced-cost variant of the paper's recipe, so that it runs on a 2-core CPU:
#   - input: one random 128x128 crop per clip (the same window in its 3 frames) of
#     frames rescaled to short side 256, instead of the whole frame resized to
#     256x256 (same pixel scale as the paper, 4x fewer pixels);
#   - schedule: 1,000 iterations at batch 6 (6,000 clips: ~21 passes over the 283
#     non-overlapping clips of this data, each pass with new random crops) instead
#     of 10 Kinetics epochs, so that a run fits in two hours of one CPU core (5.4 s
#     per iteration in fp32 on one thread of an Intel Xeon without bf16 units);
#     Adam at 5e-4, halved at 50 % and 75 % of the run, instead of 2e-4 halved
#     after 400k..1M samples; the scheduled-sampling probability falls from 0.9 to
#     0.6 over the run, as over the paper's.
# Everything else (model, bottleneck, recursion, scheduled sampling 0.9 -> 0.6,
# cycle weight 0.1) is the paper's.
_base_ = [
    '../_base_/models/corrflow_r18.py',
    '../_base_/schedules/adam_iters.py',
    '../_base_/datasets/davis_val.py',
    '../_base_/default_runtime.py',
]
max_iters = 1000
clip_pipeline = [
    dict(type='LoadClipFrames'),
    dict(type='RescaleClip', short_side=256),
    dict(type='RandomCropClip', size=(128, 128)),
    dict(type='QuantiseColour', centroids=None),
    dict(type='PackClipInputs'),
]
train_dataloader = dict(
    batch_size=6,
    num_workers=1,
    persistent_workers=True,
    collate_fn=dict(type='corrflow.sample_list_collate'),
    sampler=dict(type='ResumableInfiniteSampler', shuffle=True),
    dataset=dict(
        type='ConcatDataset',
        datasets=[
            dict(type='VideoFolder', data_root=None,
                 data_prefix=dict(img='davis2016-train-256/JPEGImages'),
                 frames_fps=24.0, target_fps=6.0, clip_length=3, pipeline=clip_pipeline),
            dict(type='VideoFolder', data_root=None, data_prefix=dict(img='raw-videos'),
                 target_fps=6.0, clip_length=3, pipeline=clip_pipeline),
        ],
    ),
)
optim_wrapper = dict(optimizer=dict(lr=5e-4))
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=False, milestones=[max_iters // 2, max_iters * 3 // 4],
         gamma=0.5),
]
# DAVIS validation (3 sequences, protocol A at 480p) once, at the end; give its
# root with --cfg-options val_dataloader.dataset.data_root=DIR, or train without
# it: --cfg-options val_cfg=None val_dataloader=None val_evaluator=None
# default_hooks.checkpoint.save_best=None
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=250, max_keep_ckpts=2, save_best='davis/J&F-Mean', rule='greater'),
)
custom_hooks = [
    dict(type='TrainProgressHook'),
    dict(type='ReconstructionVisualizationHook', interval=250),
    dict(type='VideoProgressHook'),
    dict(type='PreciseBNHook', num_batches=40),  # see default_runtime.py
]
