amp = None
custom_hooks = [
    dict(type='TrainProgressHook'),
    dict(type='VideoProgressHook'),
    dict(type='SubmissionZipHook'),
    dict(num_batches=40, type='PreciseBNHook'),
]
data_root = 'data/DAVIS'
default_hooks = dict(
    checkpoint=dict(
        by_epoch=False, interval=5000, max_keep_ckpts=3,
        type='CheckpointHook'),
    logger=dict(interval=50, type='LoggerHook'),
    param_scheduler=dict(type='ParamSchedulerHook'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    timer=dict(type='IterTimerHook'))
default_scope = 'corrflow'
env_cfg = dict(
    cudnn_benchmark=False,
    dist_cfg=dict(backend='nccl'),
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0))
load_from = None
log_level = 'INFO'
log_processor = dict(by_epoch=False, type='LogProcessor', window_size=20)
model = dict(
    backbone=dict(
        arch='vit_small_patch16_224',
        checkpoint=None,
        key_map='dino',
        type='TimmViT'),
    colour_space='rgb',
    input_size=240,
    mean=(
        0.485,
        0.456,
        0.406,
    ),
    propagation=dict(
        num_context=5,
        preset='crw',
        radius=3,
        temperature=0.07,
        topk=10,
        type='TopKMemoryPropagation'),
    size_divisor=16,
    size_fit='pad',
    std=(
        0.229,
        0.224,
        0.225,
    ),
    type='LabelPropagator')
randomness = dict(deterministic=False, seed=0)
resume = False
runner_type = 'CorrflowRunner'
task = 'davis'
test_cfg = dict(type='TestLoop')
test_dataloader = dict(
    batch_size=1,
    collate_fn=dict(type='corrflow.sample_list_collate'),
    dataset=dict(
        ann_file='ImageSets/2017/val.txt',
        data_root='data/DAVIS',
        pipeline=[
            dict(type='LoadVideoFrames'),
            dict(type='LoadFirstFrameMask'),
            dict(type='PackVideoInputs'),
        ],
        resolution='480p',
        type='DAVISVideos'),
    num_workers=2,
    persistent_workers=False,
    sampler=dict(shuffle=False, type='DefaultSampler'))
test_evaluator = dict(type='DAVISMetric')
test_pipeline = [
    dict(type='LoadVideoFrames'),
    dict(type='LoadFirstFrameMask'),
    dict(type='PackVideoInputs'),
]
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
