# The embedded demo: CorrFlow trained on procedural videos, iteration-based, on a
# 2-core CPU in under 5 minutes; the loss goes clearly down. Add your own videos
# with `tools/train.py ... --data-root DIR` (a folder of mp4/avi/webm files and/or
# frame folders, sampled at 6 fps).
_base_ = [
    '../_base_/models/corrflow_r18.py',
    '../_base_/datasets/synthetic_clips.py',
    '../_base_/schedules/adam_iters.py',
    '../_base_/default_runtime.py',
]
size = 128  # 256 in the paper; 4x fewer pixels keeps an iteration near 2 s on a CPU
train_dataloader = dict(
    batch_size=4,  # paper: 6
    num_workers=1,
    dataset=dict(
        _delete_=True,
        type='ConcatDataset',
        datasets=[
            dict(type='SyntheticVideos', num_videos=2000, num_frames=48, size=(size, size),
                 seed=0, clip_length=3, frame_stride=4,
                 pipeline={{_base_.synthetic_pipeline}}),
            # optional: filled in by --data-root; empty without it
            dict(type='VideoFolder', data_root=None, target_fps=6.0, clip_length=3,
                 pipeline=[
                     dict(type='LoadClipFrames'),
                     dict(type='ResizeClip', size=(size, size)),
                     dict(type='QuantiseColour', centroids=None),
                     dict(type='PackClipInputs'),
                 ]),
        ],
    ),
)
optim_wrapper = dict(optimizer=dict(lr=1e-3))  # a short run: 5x the paper's 2e-4
auto_scale_lr = dict(base_batch_size=4)  # the lr above is set for batch 4
train_cfg = dict(max_iters=100)  # ~2 s per iteration on 2 CPU cores: under 4 minutes
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=40, max_keep_ckpts=2),
)
custom_hooks = [
    dict(type='TrainProgressHook'),
    dict(type='ReconstructionVisualizationHook', interval=40),
    dict(type='VideoProgressHook'),
    dict(type='PreciseBNHook', num_batches=10),  # see default_runtime.py; 10 for a short run
]
