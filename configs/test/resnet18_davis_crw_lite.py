# A torchvision ResNet-18 (layer3 at stride 8) under B-lite (CRW's rules; see
# corrflow_davis_crw_lite.py): short side 240, +-6 cells at stride 8, frame 0 + 5
# preceding, top-10, T 0.07.
_base_ = ['./resnet18_davis_crw.py']
model = dict(propagation=dict(radius=6, num_context=5, temperature=0.07), input_size=240)
