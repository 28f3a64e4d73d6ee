# TimeCycle features under the standard protocol B (as corrflow_davis_topk.py): short
# side 480, +-12 cells at stride 8, frame 0 + 20 preceding, top-10, temperature 0.07.
_base_ = ['./timecycle_davis.py']
model = dict(
    propagation=dict(_delete_=True, type='TopKMemoryPropagation', radius=12, num_context=20,
                     topk=10, temperature=0.07, preset='centred'),  # the rules of
    # corrflow_davis_topk.py; CRW's: --cfg-options model.propagation.preset=crw
    input_size=480,
)
