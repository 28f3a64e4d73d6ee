# Runtime shared by every config: scope, logging, checkpoints, visualisation.
default_scope = 'corrflow'

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),  # tools/train.py switches to gloo when there is no GPU
)

vis_backends = [dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')]
visualizer = dict(type='Visualizer', vis_backends=vis_backends, name='visualizer')

log_processor = dict(type='LogProcessor', window_size=20, by_epoch=False)
log_level = 'INFO'

# the runner: mmengine's, with safe checkpoints and a console that starts at the work
runner_type = 'CorrflowRunner'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=5000, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)
custom_hooks = [
    # the run's progress, for models whose training depends on it (CorrFlow's scheduled
    # sampling, TimeCycle's frozen-encoder phase); other models are left alone
    dict(type='TrainProgressHook'),
    # a progress bar over the videos of evaluations
    dict(type='VideoProgressHook'),
    # at the end of a test run: the zip an evaluation server takes (YouTube-VOS)
    dict(type='SubmissionZipHook'),
    # at the end: batch-norm statistics re-estimated on clean training clips (the bottleneck
    # drops colour from 70 % of the batches the running statistics come from); 0 batches
    # keeps the running statistics, the original recipe's behaviour
    dict(type='PreciseBNHook', num_batches=40),
]

# Mixed precision of training (tools/train.py --amp sets it): None (fp32), 'auto' (bf16 on
# GPUs that support it and on CPUs with bf16 matrix units, fp16 with loss scaling on
# other GPUs, fp32 with a warning on other CPUs), 'bf16' or 'fp16'.
amp = None

randomness = dict(seed=0, deterministic=False)
load_from = None
resume = False
