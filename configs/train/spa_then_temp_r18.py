# Spa-then-Temp's temporal stage with ResNet-18 student and teacher: the recipe of
# spa_then_temp_r50.py (which the reference only published for ResNet-50) with both
# networks at depth 18 (layer2/3/4: 128/256/512 channels). The stage-1 weights are a
# torchvision-format ResNet-18 (e.g. MoCo's query encoder; prefixes are stripped).
_base_ = ['./spa_then_temp_r50.py']
stage1 = 'checkpoints/stage1/moco_r18.pth'  # the stage-1 weights: set your own
model = dict(
    backbone=dict(depth=18),
    student_checkpoint=stage1,
    teacher=dict(backbone=dict(depth=18), checkpoint=stage1),
)
test_config = 'configs/test/spa_then_temp_r18_d8.py'
