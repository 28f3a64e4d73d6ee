"""CRW's training samples as the reduced config builds them, through the model's loss."""
import copy
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from corrflow.datasets.collate import sample_list_collate
from corrflow.registry import DATASETS, MODELS

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # decodes a video and runs the encoder on 392 patches
def test_reduced_config_clips_are_patch_grids_the_model_trains_on(tmp_path, write_video):
    cfg = Config.fromfile(str(REPO / 'configs/train/crw_r18_davis16.py'))
    folder = copy.deepcopy(cfg.train_dataloader.dataset.datasets[1])  # the raw-video clips
    write_video(tmp_path / 'raw-videos' / 'a.mp4', 40, fps=30, size=(455, 256))
    folder.data_root = str(tmp_path)
    dataset = DATASETS.build(folder)
    assert dataset.get_data_info(0)['frame_indices'] == [0, 4, 8, 12]  # 8 fps of 30
    sample = dataset[0]
    assert sample['inputs'].shape == (4 * 49, 3, 64, 64)
    assert sample['inputs'].dtype == torch.uint8
    assert sample['data_samples']['patch_grid'] == (7, 7)
    batch = sample_list_collate([sample, dataset[1]])
    model = MODELS.build(cfg.model)
    data = model.data_preprocessor(batch, True)
    assert data['inputs'].shape == (2, 196, 3, 64, 64)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss', 'xent_2', 'acc_2', 'xent_3', 'acc_3'}
    assert 2.0 < losses['loss'].item() < 6.0  # about log(49) = 3.9 at initialisation
