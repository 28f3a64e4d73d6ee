# The reference's "temporal only" row with ResNet-18: no stage-1 weights and no
# teacher, so no global distillation; the student learns from scratch by
# reconstruction at strides 4 and 8 plus the local distillation within itself.
# With model.local_loss=None as well it is a multi-scale Lab reconstruction model in
# the manner of MAST.
_base_ = ['./spa_then_temp_r18.py']
model = dict(student_checkpoint=None, teacher=None, global_loss=None)
