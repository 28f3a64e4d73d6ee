# A timm ViT-S/16 on DAVIS-2017 val under DINO's protocol (facebookresearch/dino,
# eval_video_segmentation.py with its defaults): short side 480, the last block's patch
# tokens after the final norm (class token dropped) as a stride-16 map, ImageNet
# normalisation, L2-normalised features, frame 0 + 7 preceding frames, top-5, a square
# window of +-12 cells, temperature 0.1, and its code's rules (preset 'dino').
# Frames are padded to multiples of 16 (replicate) and the masks cropped back to the
# original size; DINO's script instead resizes the long side down to a multiple of 64
# (854x480 -> 832x480: model.input_size=(832,480) for 854x480 videos).
#
# Weights: random unless a file is given, e.g. DINO's release
#   --cfg-options model.backbone.checkpoint=dino_deitsmall16_pretrain.pth
# (key_map 'dino' also reads a training checkpoint's teacher); CropMAE / MAE ViT-S/16:
#   --cfg-options model.backbone.checkpoint=FILE model.backbone.key_map=mae
# Published (DINO paper, DAVIS-2017 val J&F / J / F): ViT-S/16 61.8 / 60.2 / 63.4,
# ViT-S/8 69.9 / 66.6 / 73.1, ViT-B/16 62.3 / 60.7 / 63.9, ViT-B/8 71.4 / 67.9 / 74.9.
_base_ = [
    '../_base_/datasets/davis_test.py',
    '../_base_/default_runtime.py',
]
model = dict(
    type='LabelPropagator',
    backbone=dict(type='TimmViT', arch='vit_small_patch16_224', checkpoint=None,
                  key_map='dino'),
    neck=None,
    mean=(0.485, 0.456, 0.406),
    std=(0.229, 0.224, 0.225),
    propagation=dict(type='TopKMemoryPropagation', preset='dino', radius=12, num_context=7,
                     topk=5, temperature=0.1),
    input_size=480,
    size_divisor=16,
    size_fit='pad',
)
