# A torchvision ResNet-50 under CRW's published protocol (see resnet18_davis_crw.py):
# layer3 at stride 8 (1024 channels). ImageNet weights: model.backbone.checkpoint=FILE;
# MoCo v1/v2: model.backbone.key_map=moco; MoCo v3: model.backbone.key_map=moco_v3.
_base_ = ['./resnet18_davis_crw.py']
model = dict(backbone=dict(depth=50))
