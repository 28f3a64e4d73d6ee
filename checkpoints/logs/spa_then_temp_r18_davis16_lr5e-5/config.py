amp = None
auto_scale_lr = dict(base_batch_size=4, enable=False)
custom_hooks = [
    dict(type='VideoProgressHook'),
]
default_hooks = dict(
    checkpoint=dict(
        by_epoch=False, interval=250, max_keep_ckpts=2, type='CheckpointHook'),
    logger=dict(interval=10, type='LoggerHook'),
    param_scheduler=dict(type='ParamSchedulerHook'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    timer=dict(type='IterTimerHook'))
default_scope = 'corrflow'
env_cfg = dict(
    cudnn_benchmark=False,
    dist_cfg=dict(backend='nccl'),
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0))
launcher = 'none'
load_from = None
log_level = 'INFO'
log_processor = dict(by_epoch=False, type='LogProcessor', window_size=20)
max_epochs = 800
max_iters = 1000
model = dict(
    backbone=dict(
        depth=18,
        out_indices=(
            2,
            3,
            4,
        ),
        out_stage=4,
        stem_pool='none',
        strides=(
            1,
            2,
            2,
            4,
        ),
        type='TorchvisionResNet'),
    data_preprocessor=dict(type='ClipDataPreprocessor'),
    global_loss=dict(
        loss_weight=50.0,
        teacher_temperature=0.07,
        type='GlobalAffinityDistillLoss',
        variant='faithful'),
    input_scale=1.5,
    local_loss=dict(
        coarse_radius=6,
        fine_radius=12,
        loss_weight=1000.0,
        type='LocalAffinityDistillLoss',
        variant='faithful'),
    propagation=dict(
        input_size=480,
        propagation=dict(
            num_context=20,
            radius=12,
            temperature=0.07,
            topk=10,
            type='TopKMemoryPropagation')),
    propagation_stage=3,
    reconstruction=[
        dict(
            loss_weight=1.0,
            radius=12,
            scale=20.0,
            stride=4,
            type='WindowedReconstructionLoss'),
        dict(
            loss_weight=1.0,
            radius=6,
            scale=20.0,
            stride=8,
            type='WindowedReconstructionLoss'),
    ],
    student_checkpoint=None,
    teacher=dict(
        backbone=dict(type='CorrFlowResNet'),
        checkpoint='checkpoints/corrflow_r18_davis16.pth',
        mean=None,
        pool=8,
        std=None,
        type='FrozenTeacher'),
    type='SpaThenTemp',
    uncertainty=dict(
        keep=0.7, radius=6, type='UncertaintyMask', variant='faithful'))
optim_wrapper = dict(
    optimizer=dict(
        betas=(
            0.9,
            0.999,
        ), lr=5e-05, type='Adam', weight_decay=0.0),
    type='OptimWrapper')
pair_pipeline = [
    dict(type='LoadClipFrames'),
    dict(
        attempts=20,
        fallback='square',
        ratio=(
            1.5,
            2.0,
        ),
        scale=(
            0.6,
            1.0,
        ),
        size=(
            128,
            128,
        ),
        type='RandomResizedCropClip'),
    dict(prob=0.5, type='RandomFlipClip'),
    dict(type='PackClipInputs'),
]
param_scheduler = [
    dict(begin=0, by_epoch=False, end=50, start_factor=0.001, type='LinearLR'),
    dict(
        T_max=1000,
        begin=0,
        by_epoch=False,
        end=1000,
        eta_min_ratio=0.001,
        type='CosineAnnealingLR'),
]
randomness = dict(deterministic=False, seed=0)
resume = False
stage1 = 'checkpoints/stage1/moco_r18.pth'
sync_bn = None
test_config = 'configs/test/spa_then_temp_r18_d8.py'
train_cfg = dict(max_iters=1000, type='ResumableIterBasedTrainLoop')
train_dataloader = dict(
    batch_size=4,
    collate_fn=dict(type='corrflow.sample_list_collate'),
    dataset=dict(
        datasets=[
            dict(
                clip_length=2,
                data_prefix=dict(img='davis2016-train-256/JPEGImages'),
                data_root='../shared/data',
                frames_fps=24.0,
                pipeline=[
                    dict(type='LoadClipFrames'),
                    dict(
                        attempts=20,
                        fallback='square',
                        ratio=(
                            1.5,
                            2.0,
                        ),
                        scale=(
                            0.6,
                            1.0,
                        ),
                        size=(
                            128,
                            128,
                        ),
                        type='RandomResizedCropClip'),
                    dict(prob=0.5, type='RandomFlipClip'),
                    dict(type='PackClipInputs'),
                ],
                target_fps=6.0,
                type='VideoFolder'),
            dict(
                clip_length=2,
                data_prefix=dict(img='raw-videos'),
                data_root='../shared/data',
                pipeline=[
                    dict(type='LoadClipFrames'),
                    dict(
                        attempts=20,
                        fallback='square',
                        ratio=(
                            1.5,
                            2.0,
                        ),
                        scale=(
                            0.6,
                            1.0,
                        ),
                        size=(
                            128,
                            128,
                        ),
                        type='RandomResizedCropClip'),
                    dict(prob=0.5, type='RandomFlipClip'),
                    dict(type='PackClipInputs'),
                ],
                target_fps=6.0,
                type='VideoFolder'),
        ],
        type='ConcatDataset'),
    num_workers=1,
    persistent_workers=True,
    sampler=dict(shuffle=True, type='ResumableInfiniteSampler'))
vis_backends = [
    dict(type='LocalVisBackend'),
    dict(type='TensorboardVisBackend'),
]
visualizer = dict(
    name='visualizer',
    type='Visualizer',
    vis_backends=[
        dict(type='LocalVisBackend'),
        dict(type='TensorboardVisBackend'),
    ])
work_dir = 'work_dirs/runs/stt'
