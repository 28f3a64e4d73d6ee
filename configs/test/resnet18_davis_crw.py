# A torchvision ResNet-18 on DAVIS-2017 val under CRW's published protocol (see
# crw_r18_davis.py), as CRW's README scores its ImageNet baseline (--model-type imagenet18):
# layer3 with its stride removed (output stride 8, 256 channels), zero padding, ImageNet
# normalisation, 480p, frame 0 + 20 preceding, top-10, radius 12, temperature 0.05.
# Weights: random unless a file is given, e.g. torchvision's ImageNet state dict
#   --cfg-options model.backbone.checkpoint=resnet18-f37072fd.pth
# (key_map 'torchvision'; a MoCo checkpoint: model.backbone.key_map=moco).
_base_ = ['./crw_r18_davis.py']
model = dict(backbone=dict(padding_mode='zeros', checkpoint=None, key_map='torchvision'))
