"""The documentation keeps its promises: links resolve, commands name files that exist,
and the MkDocs site builds with warnings as errors."""
from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PAGES = sorted([REPO / 'README.md', *REPO.glob('docs/en/**/*.md'),
                *REPO.glob('configs/*/README.md'), REPO / 'demo' / 'README.md'])
LINK = re.compile(r'!?\[[^\]]*\]\(([^)\s]+)\)')
FENCE = re.compile(r'^```(\w*)\n(.*?)^```', re.M | re.S)
# repository folders whose files a command may name
REPO_DIRS = ('configs/', 'tools/', 'checkpoints/', 'demo/', 'data/', 'benchmarks/', 'tests/',
             'docs/')


def _anchors(text: str) -> set[str]:
    """GitHub / MkDocs heading anchors of a Markdown page."""
    text = FENCE.sub('', text)
    anchors = set()
    for heading in re.findall(r'^#{1,6} (.+)$', text, re.M):
        slug = re.sub(r'[^\w\- ]', '', heading.strip().lower()).replace(' ', '-')
        anchors.add(slug)
    return anchors


def _links(page: Path) -> list[str]:
    return LINK.findall(FENCE.sub('', page.read_text()))


@pytest.mark.parametrize('page', PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(page):
    broken = []
    for target in _links(page):
        if re.match(r'^[a-z]+://|^mailto:', target):
            continue
        path, _, anchor = target.partition('#')
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(target)
        elif anchor and dest.suffix == '.md' and anchor not in _anchors(dest.read_text()):
            broken.append(target)
    assert not broken, f'{page.relative_to(REPO)}: broken links {broken}'


def _blocks(page: Path) -> list[tuple[list[str], bool]]:
    """Per bash block of the page: its commands (continuation lines joined), and whether
    the block is marked ``# needs ...`` (a dataset or release file the user provides)."""
    blocks = []
    for lang, body in FENCE.findall(page.read_text()):
        if lang not in ('bash', 'sh', 'shell'):
            continue
        commands = []
        for command in re.sub(r'\\\n\s*', ' ', body).splitlines():
            command = command.split(' #')[0].strip()
            if command and not command.startswith('#'):
                commands.append(command)
        blocks.append((commands, bool(re.search(r'^\s*# needs ', body, re.M))))
    return blocks


OUTPUT_OPTIONS = ('--out', '--work-dir', '-o', '--site-dir')
WRITERS = ('tools/convert_', 'tools/publish_model.py', 'tools/analysis/recalibrate_bn.py')


def _words(command: str) -> list[str]:
    try:
        return shlex.split(command)
    except ValueError:
        return command.split()


def _outputs(command: str) -> set[str]:
    """Paths a command writes: after an output option, or a writer tool's last argument."""
    words = _words(command)
    made = {b for a, b in zip(words, words[1:]) if a in OUTPUT_OPTIONS}
    if any(w.startswith(WRITERS) for w in words):
        positional = [w for w in words if not w.startswith(('-', '['))]
        made.add(positional[-1])
    return made


def _repo_paths(command: str) -> list[str]:
    paths = []
    for word in _words(command):
        # NAME=CONFIG@CHECKPOINT (benchmark_encoders.py) names two files
        for part in word.split('=', 1)[-1].split('@'):
            if part.startswith(REPO_DIRS) and not re.search(r'[A-Z_]{3,}|[*{}<>\[\]$]', part):
                paths.append(part)
    return paths


def _is_dataset(path: str) -> bool:
    return path.startswith('data/') and not path.startswith('data/data_info/')


@pytest.mark.parametrize('page', PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_command_paths_exist(page):
    """Every script, config, checkpoint and sample a command names is in the repository.

    Not checked: what the page's commands write themselves, and, in a block marked
    ``# needs <dataset>``, the dataset folders under ``data/`` the user provides. A
    dataset path in an unmarked block is an error.
    """
    blocks = _blocks(page)
    made = {p for commands, _ in blocks for c in commands for p in _outputs(c)}
    missing, unmarked = set(), set()
    for commands, marked in blocks:
        for path in (p for c in commands for p in _repo_paths(c)):
            if path in made or any(path.startswith(m.rstrip('/') + '/') for m in made):
                continue
            if _is_dataset(path):
                if not marked:
                    unmarked.add(path)
            elif not (REPO / path).exists():
                missing.add(path)
    assert not missing, f'{page.relative_to(REPO)}: commands name missing files {sorted(missing)}'
    assert not unmarked, (f'{page.relative_to(REPO)}: commands use datasets {sorted(unmarked)} '
                          'in a block without a "# needs <dataset>" line')


def test_docs_build_strict(tmp_path):
    pytest.importorskip('mkdocs')
    result = subprocess.run([sys.executable, '-m', 'mkdocs', 'build', '--strict', '--site-dir',
                             str(tmp_path / 'site')], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_readme_is_short_and_shows_a_picture_first():
    text = (REPO / 'README.md').read_text()
    assert len(text.splitlines()) < 250
    picture, command = text.find('!['), text.find('```bash')
    assert 0 <= picture < command


def test_model_index_is_data_that_matches_its_evidence():
    """model-index.yml and the metafiles: every file exists, every score equals the J&F-Mean
    of the CSV it cites (rounded to 4 decimals)."""
    import yaml
    index = yaml.safe_load((REPO / 'model-index.yml').read_text())
    assert index['Import']
    for metafile in index['Import']:
        meta = yaml.safe_load((REPO / metafile).read_text())
        for collection in meta['Collections']:
            assert (REPO / collection['README']).is_file()
        for model in meta['Models']:
            for key in ('Config', 'Weights'):
                assert model[key] == 'none' or (REPO / model[key]).is_file(), model[key]
            for result in model['Results']:
                assert (REPO / result['Test Config']).is_file()
                with open(REPO / result['Evidence']) as f:
                    header, row = (line.strip().split(',') for line in f.readlines()[:2])
                stored = float(row[header.index('J&F-Mean')])
                assert result['Metrics']['J&F-Mean'] == round(stored, 4), (model['Name'], stored)
