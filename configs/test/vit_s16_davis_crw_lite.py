# A timm ViT-S/16 under B-lite (CRW's rules; see corrflow_davis_crw_lite.py): short side
# 240, +-3 cells at stride 16 (+-48 px at 240p), frame 0 + 5 preceding, top-10, T 0.07,
# frames padded to multiples of 16. For the CPU-cost comparison of any encoder with the
# model-zoo rows.
_base_ = ['./vit_s16_davis_dino.py']
model = dict(
    propagation=dict(_delete_=True, type='TopKMemoryPropagation', preset='crw', radius=3,
                     num_context=5, topk=10, temperature=0.07),
    input_size=240)
