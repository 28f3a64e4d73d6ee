"""The YouTube-VOS metric scores; the zip for the server is written by a hook at the end."""
import zipfile
from types import SimpleNamespace

import numpy as np
from mmengine.logging import MMLogger

from corrflow.engine.hooks import SubmissionZipHook
from corrflow.evaluation.metrics import YouTubeVOSMetric


def test_the_metric_leaves_the_zip_to_the_hook(tmp_path):
    metric = YouTubeVOSMetric(out_dir=str(tmp_path))
    pred = np.zeros((2, 4, 6), np.uint8)
    pred[1, 1:3, 2:4] = 1
    meta = dict(video='v1', frame_names=['00000', '00005'], output_names=['00000', '00005'],
                objects={'1': dict(first_frame='00000')})
    metric.process(dict(data_samples=[meta]), [dict(pred_masks=pred)])
    assert metric.compute_metrics(metric.results) == {}  # no ground truth: nothing scored
    assert not (tmp_path / 'submission.zip').exists()
    assert (tmp_path / 'propagation.json').is_file()
    runner = SimpleNamespace(test_evaluator=SimpleNamespace(metrics=[metric, object()]),
                             logger=MMLogger.get_current_instance())
    SubmissionZipHook().after_test_epoch(runner)
    with zipfile.ZipFile(tmp_path / 'submission.zip') as archive:
        assert archive.namelist() == ['Annotations/v1/00000.png', 'Annotations/v1/00005.png']
        assert archive.read('Annotations/v1/00005.png') == \
            (tmp_path / 'Annotations' / 'v1' / '00005.png').read_bytes()
