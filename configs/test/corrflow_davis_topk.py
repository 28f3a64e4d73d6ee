# CorrFlow on DAVIS-2017 val with protocol B at the standard settings (short side 480,
# frame 0 + 20 preceding frames, L2-normalised features, temperature 0.07, top-10 over
# all context keys, soft labels) under corrflow's own 'centred' rules (cell-centred seed
# and read-out, every frame windowed, no front padding): the rules of the numbers
# published before the reference presets existed. The numbers of CRW and its successors
# use CRW's rules: corrflow_davis_crw.py.
_base_ = ['./corrflow_davis.py']
model = dict(
    propagation=dict(
        _delete_=True,
        type='TopKMemoryPropagation',
        radius=24,  # +-12 cells at stride 8 = +-96 px = +-24 cells at stride 4
        num_context=20,
        topk=10,
        temperature=0.07,
        preset='centred'),
    input_size=480,  # short side 480, aspect ratio kept
)
