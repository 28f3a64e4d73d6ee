# CorrFlow on YouTube-VOS 2018 train (3,471 videos, frames already at 6 fps): same recipe.
_base_ = [
    '../_base_/models/corrflow_r18.py',
    '../_base_/datasets/ytvos_clips.py',
    '../_base_/schedules/adam_10e.py',
    '../_base_/corrflow_runtime.py',
]
