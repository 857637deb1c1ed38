"""Dependency detection: backend/requirements*.txt, backend/pyproject.toml, [environment]."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runner.config import EnvironmentConfig
from runner.env.detect import VERIFY_TOOLS, detect_dependencies
from runner.errors import ConfigError, ProjectError


def project(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (tmp_path / "backend").mkdir(exist_ok=True)
    return tmp_path


def detect(root: Path, **cfg: object) -> object:
    return detect_dependencies(root, EnvironmentConfig.model_validate(cfg))


def test_nothing_declared_is_the_default_environment(tmp_path: Path) -> None:
    spec = detect_dependencies(project(tmp_path, {"backend/app.py": ""}), EnvironmentConfig())
    assert not spec.declared and spec.requirements == [] and spec.sources == []
    assert spec.tools == list(VERIFY_TOOLS)


def test_no_backend_directory_is_nothing_declared(tmp_path: Path) -> None:
    assert not detect_dependencies(tmp_path, EnvironmentConfig()).declared


def test_requirements_files_with_includes_comments_and_continuations(tmp_path: Path) -> None:
    root = project(tmp_path, {
        "backend/requirements.txt": "# top\nhumanize>=4.0  # inline\n-r requirements/base.txt\n"
                                    "tabulate \\\n  ==0.9.0\n",
        "backend/requirements/base.txt": "Requests[socks] ; python_version >= '3.8'\n",
        "backend/requirements-dev.txt": "--requirement=requirements.txt\npytest==8.3.3\n"
                                        "-c constraints.txt\n",
        "backend/constraints.txt": "urllib3<3\n",
    })
    spec = detect_dependencies(root, EnvironmentConfig())
    assert spec.requirements == [
        "humanize>=4.0", 'Requests[socks]; python_version >= "3.8"', "tabulate==0.9.0",
        "pytest==8.3.3",
    ]
    assert spec.constraints == ["urllib3<3"]
    assert spec.tools == ["pytest-cov", "coverage"]  # the project's own pytest pin wins
    assert spec.sources == ["backend/requirements-dev.txt", "backend/requirements.txt",
                            "backend/requirements/base.txt", "backend/constraints.txt"]
    assert spec.declared


def test_pyproject_dependencies_test_extras_and_groups(tmp_path: Path) -> None:
    root = project(tmp_path, {"backend/pyproject.toml": """
[project]
name = "my-app"
dependencies = ["tabulate>=0.9"]
[project.optional-dependencies]
test = ["pytest-mock", "my_app[docs]"]
docs = ["sphinx"]
[dependency-groups]
lint = ["ruff"]
dev = ["freezegun", {include-group = "typing"}]
typing = ["mypy"]
"""})
    spec = detect_dependencies(root, EnvironmentConfig())
    assert spec.requirements == ["tabulate>=0.9", "pytest-mock", "freezegun", "mypy"]
    assert spec.sources == ["backend/pyproject.toml"]


def test_config_requirements_replace_detection_and_setup_is_declared(tmp_path: Path) -> None:
    root = project(tmp_path, {"backend/requirements.txt": "humanize\n"})
    spec = detect_dependencies(root, EnvironmentConfig(requirements=["pydantic<2"],
                                                       setup=["echo hi"]))
    assert spec.requirements == ["pydantic<2"] and spec.setup == ["echo hi"]
    assert spec.sources == ["sandbox-runner.toml"]
    only_setup = detect_dependencies(tmp_path / "backend", EnvironmentConfig(setup=["true"]))
    assert only_setup.declared and only_setup.requirements == []


def test_local_and_editable_requirements_are_skipped_and_named(tmp_path: Path) -> None:
    root = project(tmp_path, {"backend/requirements.txt": "-e .\n./vendor/pkg.whl\nhumanize\n"})
    spec = detect_dependencies(root, EnvironmentConfig())
    assert spec.requirements == ["humanize"]
    assert [s.split(":")[1] for s in spec.skipped] == ["1", "2"]


def test_hashes_are_kept(tmp_path: Path) -> None:
    root = project(tmp_path, {"backend/requirements.txt":
                              "humanize==4.9.0 \\\n    --hash=sha256:abc --hash=sha256:def\n"})
    spec = detect_dependencies(root, EnvironmentConfig())
    assert spec.requirements == ["humanize==4.9.0 --hash=sha256:abc --hash=sha256:def"]
    assert spec.hashed


@pytest.mark.parametrize("text, needle", [
    ("--index-url https://evil.example/simple\nhumanize\n", "pip option --index-url"),
    ("--extra-index-url=https://x\n", "pip option --extra-index-url"),
    ("-f /tmp/wheels\n", "pip option -f"),
    ("pkg @ https://pypi.org/x?${PIP_INDEX_URL}\n", "${...} references"),
    ("not a requirement!!\n", "not a requirement"),
    ("-r ../../etc/passwd\n", "outside backend/"),
    ("-r https://example.com/r.txt\n", "not fetched"),
    ("-r\n", "without a file"),
])
def test_bad_lines_are_bad_input_with_file_and_line(tmp_path: Path, text: str, needle: str) -> None:
    root = project(tmp_path, {"backend/requirements.txt": "humanize\n" + text})
    with pytest.raises(ProjectError) as exc:
        detect_dependencies(root, EnvironmentConfig())
    assert exc.value.exit_code == 2
    assert "backend/requirements.txt:2" in str(exc.value) and needle in str(exc.value)


def test_hostile_files_are_refused_not_followed(tmp_path: Path) -> None:
    root = project(tmp_path, {"outside.txt": "secret-package\n"})
    os.symlink(root / "outside.txt", root / "backend" / "requirements.txt")
    with pytest.raises(ProjectError, match="symbolic link"):
        detect_dependencies(root, EnvironmentConfig())
    (root / "backend" / "requirements.txt").unlink()
    os.mkfifo(root / "backend" / "requirements.txt")  # would block a naive reader
    with pytest.raises(ProjectError, match="not a regular file"):
        detect_dependencies(root, EnvironmentConfig())


def test_large_and_masked_files_are_refused(tmp_path: Path) -> None:
    root = project(tmp_path, {"backend/requirements.txt": "a\n" * 200_000})
    with pytest.raises(ProjectError, match="larger than"):
        detect_dependencies(root, EnvironmentConfig())
    root = project(tmp_path, {"backend/requirements.txt": "-r requirements-secret.txt\n",
                              "backend/requirements-secret.txt": "x\n"})
    with pytest.raises(ProjectError, match="masked"):
        detect_dependencies(root, EnvironmentConfig(),
                            is_masked=lambda rel: rel.endswith("secret.txt"))


def test_include_cycles_end(tmp_path: Path) -> None:
    root = project(tmp_path, {"backend/requirements.txt": "-r requirements-b.txt\nx\n",
                              "backend/requirements-b.txt": "-r requirements.txt\ny\n"})
    assert detect_dependencies(root, EnvironmentConfig()).requirements == ["x", "y"]


def test_pyproject_errors_are_bad_input(tmp_path: Path) -> None:
    root = project(tmp_path, {"backend/pyproject.toml": "[project\n"})
    with pytest.raises(ProjectError, match="not valid TOML"):
        detect_dependencies(root, EnvironmentConfig())
    root = project(tmp_path, {"backend/pyproject.toml": "[project]\ndependencies = 'x'\n"})
    with pytest.raises(ProjectError, match="list of strings"):
        detect_dependencies(root, EnvironmentConfig())
    root = project(tmp_path, {"backend/pyproject.toml":
                              "[dependency-groups]\ndev = [{include-group = 'dev'}]\n"})
    with pytest.raises(ProjectError, match="includes itself"):
        detect_dependencies(root, EnvironmentConfig())


def test_digest_covers_inputs_not_sources(tmp_path: Path) -> None:
    a = detect_dependencies(project(tmp_path / "a", {"backend/requirements.txt": "x\n"}),
                            EnvironmentConfig())
    b = detect_dependencies(project(tmp_path / "b", {"backend/requirements-dev.txt": "x\n"}),
                            EnvironmentConfig())
    assert a.sources != b.sources and a.digest("sha256:r") == b.digest("sha256:r")
    assert a.digest("sha256:r") != a.digest("sha256:s")
    c = detect_dependencies(tmp_path / "a", EnvironmentConfig(setup=["make"]))
    assert c.digest("sha256:r") != a.digest("sha256:r")
    d = detect_dependencies(tmp_path / "a", EnvironmentConfig(base_image="debian:12"))
    assert d.digest("sha256:r") != a.digest("sha256:r")


def test_config_model_forbids_unknown_keys_and_checks_names() -> None:
    from runner.config import build_run_config

    with pytest.raises(Exception, match="extra"):
        EnvironmentConfig.model_validate({"requirement": ["x"]})
    with pytest.raises(Exception, match="environment variable name"):
        EnvironmentConfig(secrets=["NOT-A-NAME"])
    with pytest.raises(ConfigError, match="environment"):
        build_run_config(Path("."), {"environment": {"setup": [""]}})
