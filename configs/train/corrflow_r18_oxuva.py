# CorrFlow on OxUvA (the release's best model, DAVIS-2017 J&F 50.3): same recipe.
_base_ = [
    '../_base_/models/corrflow_r18.py',
    '../_base_/datasets/oxuva_clips.py',
    '../_base_/schedules/adam_10e.py',
    '../_base_/corrflow_runtime.py',
]
