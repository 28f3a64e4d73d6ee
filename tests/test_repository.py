"""The repository speaks of the project alone: no machine paths in committed logs, no
references to documents that do not ship, examples with user paths."""
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# an absolute path of a machine (not e.g. ".../gcc-toolset-13/root/usr" inside a build string)
MACHINE_PATH = re.compile(r'(?<![\w.\-/])/(?:work|home|Users|tmp|mnt|root|data)/[\w.\-]+')


def tracked(*patterns: str) -> list[Path]:
    try:
        out = subprocess.run(['git', 'ls-files', '--', *patterns], cwd=REPO, check=True,
                             capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip('not a git checkout')
    return [REPO / line for line in out.splitlines() if line]


def test_committed_logs_and_results_hold_no_machine_paths():
    files = [p for p in tracked('checkpoints', 'benchmarks/results', 'docs')
             if p.suffix in ('.log', '.json', '.py', '.csv', '.md', '.txt')]
    assert files
    found = [(p.relative_to(REPO), m.group(0)) for p in files
             for m in MACHINE_PATH.finditer(p.read_text(errors='replace'))]
    assert not found, found[:5]


def test_code_configs_and_readme_cite_no_unshipped_documents():
    files = [p for p in tracked('corrflow', 'tools', 'configs', 'README.md')
             if p.suffix in ('.py', '.md', '.sh')]
    found = []
    for path in files:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r'\bSPEC\b', line) or ('../shared' in line
                                                 and 'CORRFLOW_SHARED_DATA' not in line):
                found.append(f'{path.relative_to(REPO)}:{number}: {line.strip()}')
    assert not found, found
