"""Installation script for corrflow."""
import shutil
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

#: Files of the source tree that a (non-editable) install carries inside the package, under
#: corrflow/.mim/, so that `corrflow.apis.init_model('configs/test/corrflow_davis.py')` finds
#: them (corrflow.apis.inference.config_roots). An editable install reads them in place.
PACKAGED_TREES = ('configs',)


class BuildWithConfigs(build_py):
    """build_py that also copies the configs into the built package."""

    def run(self):
        super().run()
        for tree in PACKAGED_TREES:
            dst = Path(self.build_lib) / 'corrflow' / '.mim' / tree
            if dst.exists():
                shutil.rmtree(dst)
            shutil.copytree(tree, dst, ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))


def read_version() -> str:
    namespace: dict = {}
    exec(Path('corrflow/version.py').read_text(), namespace)
    return namespace['__version__']


setup(
    name='corrflow',
    version=read_version(),
    description='Self-supervised video correspondence: training and label propagation',
    long_description=Path('README.md').read_text(encoding='utf-8'),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.9',
    packages=find_packages(exclude=('configs', 'tools', 'tests', 'benchmarks')),
    install_requires=[
        'torch', 'torchvision', 'mmengine>=0.10,<0.11', 'mmcv-lite>=2.0',
        'opencv-python', 'numpy', 'scipy', 'pillow', 'av', 'tensorboard', 'timm>=1.0',
    ],
    cmdclass={'build_py': BuildWithConfigs},
    zip_safe=False,
)
