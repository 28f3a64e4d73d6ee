"""tools/analysis/benchmark_encoders.py: one table, settings from the runs' files, resume."""
import csv
import json
from pathlib import Path

import pytest
import torch
import torchvision

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / 'demo' / 'davis_sample'
TOOL = 'tools/analysis/benchmark_encoders.py'


def test_one_table_of_several_encoders_with_resume(tmp_path, tool):
    work = tmp_path / 'bench'
    args = [TOOL, 'identity', 'pixel=configs/test/pixel_lab_davis_crw_lite.py',
            'vit=configs/test/vit_s16_davis_crw_lite.py',
            '--protocol', 'davis=configs/test/corrflow_davis_crw_lite.py',
            '--data-root', str(SAMPLE), '--work-dir', str(work), '--threads', '1']
    run = tool(*args)
    assert run.returncode == 0, run.stderr[-2000:]
    rows = list(csv.DictReader(open(work / 'encoders.csv')))
    assert [r['encoder'] for r in rows] == ['identity', 'pixel', 'vit']
    for row in rows:
        record = json.loads((work / row['encoder'] / 'davis' / 'run.json').read_text())
        written = json.loads((work / row['encoder'] / 'davis' / 'propagation.json').read_text())
        assert row['J&F-Mean'] == f'{written["results"]["J&F-Mean"]:.4f}'
        assert record['status'] == 'ok' and row['status'] == 'ok'
    vit = rows[2]
    # the protocol's 12 cells at stride 4 (48 px) become 3 cells at the ViT's stride 16
    assert vit['radius'] == '3 cells at stride 16 (48 px)'
    assert 'encoder TimmViT; stride 16' in vit['settings (from the run\'s files)']
    assert float(vit['frames/s']) > 0 and float(vit['peak memory (MiB)']) > 100
    config = (work / 'vit' / 'davis' / 'config.py').read_text()
    assert "type='TimmViT'" in config and "preset='crw'" in config and 'radius=3' in config
    assert (work / 'encoders.md').read_text().count('\n') == 2 + 3
    # a second run changes nothing and runs nothing
    stamp = (work / 'vit' / 'davis' / 'run.json').stat().st_mtime_ns
    again = tool(*args)
    assert again.returncode == 0 and again.stdout.count('earlier run, unchanged') == 3
    assert (work / 'vit' / 'davis' / 'run.json').stat().st_mtime_ns == stamp
    # a failing run is marked, the others stay, the exit code says so
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), tmp_path / 'r18.pth')
    bad = tool(TOOL, 'identity', f'vit_bad=configs/test/vit_s16_davis_crw_lite.py@'
               f'{tmp_path / "r18.pth"}', '--protocol',
               'davis=configs/test/corrflow_davis_crw_lite.py', '--data-root', str(SAMPLE),
               '--work-dir', str(work), '--threads', '1')
    assert bad.returncode == 1
    table = (work / 'encoders.md').read_text()
    assert table.startswith('**Incomplete: 1 of 2 runs failed.**')
    assert 'failed: error: ' in table and 'vit_bad/davis/log.txt' in table


@pytest.mark.parametrize('argv,message', [
    (['identity', '--tasks', 'davis,kitti'], '--tasks'),
    (['nope=configs/test/missing.py'], 'does not exist'),
    (['a=configs/test/pixel_lab_davis_crw_lite.py', 'a=configs/test/pixel_lab_davis_crw_lite.py'],
     'names must differ'),
    (['identity', '--tasks', 'davis,vip'], 'TASK=VALUE'),
])
def test_bad_arguments_are_one_line(tmp_path, tool, argv, message):
    run = tool(TOOL, *argv, '--data-root', str(SAMPLE), '--work-dir', str(tmp_path))
    assert run.returncode == 1
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: ') and message in lines[0]
