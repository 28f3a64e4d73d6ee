# CorrFlow (BMVC 2019), the paper's recipe on Kinetics: clips of 3 frames 4 apart at
# 256x256, total batch 6, Adam 2e-4 halved at 400k/600k/800k/1M samples, 10 epochs.
# Batch 6 is per process: on N GPUs the total batch is 6N and the lr milestones (in
# samples) come N times sooner in iterations; keep the paper's total 6 with
# train_dataloader.batch_size=6//N, or scale the lr with --auto-scale-lr.
_base_ = [
    '../_base_/models/corrflow_r18.py',
    '../_base_/datasets/kinetics_clips.py',
    '../_base_/schedules/adam_10e.py',
    '../_base_/corrflow_runtime.py',
]
