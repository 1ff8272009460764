"""The report serves only files the warehouse names, inside RUNS_DIR: a plot by its recorded
name, a Data Docs page by its place in the run's data_docs folder; nothing else."""

from __future__ import annotations

import pytest

from include import config
from include.serve import report

pytestmark = pytest.mark.unit


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    monkeypatch.setattr(config, "RUNS_DIR", runs)
    return runs


def test_a_plot_is_the_file_its_run_recorded(runs_dir, tmp_path):
    folder = runs_dir / "seg_run" / "segmentation" / "transactions"
    folder.mkdir(parents=True)
    (folder / "pca_scatter.png").write_bytes(b"png")
    outside = tmp_path / "secret.png"
    outside.write_bytes(b"secret")
    segmentation = {
        "plots": {
            "pca_scatter": str(folder / "pca_scatter.png"),
            "k_distance": str(folder / "k_distance.png"),  # recorded, but the file is gone
            "profile_heatmap": str(outside),  # recorded outside RUNS_DIR
            "manifest": str(folder / "pca_scatter.png"),  # not a plot name
        }
    }
    assert report.plot_path(segmentation, "pca_scatter") == (folder / "pca_scatter.png").resolve()
    assert report.plot_path(segmentation, "k_distance") is None
    assert report.plot_path(segmentation, "profile_heatmap") is None
    assert report.plot_path(segmentation, "manifest") is None
    assert report.plot_path(None, "pca_scatter") is None


def test_data_docs_are_the_regular_files_of_the_validation_runs_folder(runs_dir, tmp_path):
    assert (
        report.run_folder("manual__2026-01-01T00:00:00+00:00")
        == runs_dir / "manual__2026-01-01T00_00_00_00_00"
    )
    docs = report.run_folder("val:run") / "data_docs"
    (docs / "validations").mkdir(parents=True)
    (docs / "index.html").write_text("<html>")
    (docs / "validations" / "a.html").write_text("<html>")
    (tmp_path / "outside.txt").write_text("secret")
    (docs / "link.txt").symlink_to(tmp_path / "outside.txt")
    files = report.data_docs_files("val:run")
    assert set(files) == {"index.html", "validations/a.html"}
    assert report.data_docs_files("no-such-run") == {} and report.data_docs_files(None) == {}
    assert report.media_type(files["index.html"]) == "text/html"
