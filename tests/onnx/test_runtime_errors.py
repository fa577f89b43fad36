"""A wrong, missing or damaged export folder, or a missing provider: one clear error each."""

import json
import shutil

import pytest

from sam2.onnx.manifest import ExportFolderError
from sam2.onnx.runtime import OnnxModel, ProviderError

pytest.importorskip("onnxruntime")


@pytest.fixture
def export_copy(micro_export, tmp_path):
    folder = tmp_path / "export"
    shutil.copytree(micro_export, folder)
    return folder


def test_missing_folder(tmp_path):
    with pytest.raises(ExportFolderError, match="does not exist.*python -m sam2.export onnx"):
        OnnxModel(tmp_path / "nowhere")


def test_folder_without_manifest(tmp_path):
    with pytest.raises(ExportFolderError, match="no manifest.json"):
        OnnxModel(tmp_path)


def test_missing_graph(export_copy):
    (export_copy / "decoder.onnx").unlink()
    with pytest.raises(ExportFolderError, match="'decoder' \\(decoder.onnx\\) is missing"):
        OnnxModel(export_copy)


def test_truncated_graph(export_copy):
    path = export_copy / "memory_attention.onnx"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ExportFolderError, match="truncated or replaced"):
        OnnxModel(export_copy)


def test_graph_from_another_export(export_copy):
    path = export_copy / "memory_encoder.onnx"
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF  # same size, other bytes
    path.write_bytes(bytes(data))
    with pytest.raises(ExportFolderError, match="SHA-256"):
        OnnxModel(export_copy)


def test_other_format_version(export_copy):
    manifest = json.loads((export_copy / "manifest.json").read_text())
    manifest["format_version"] = 99
    (export_copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ExportFolderError, match="format 99"):
        OnnxModel(export_copy)


def test_provider_not_installed(micro_export):
    with pytest.raises(ProviderError, match="TensorrtExecutionProvider not available.*onnxruntime-gpu"):
        OnnxModel(micro_export, providers=["TensorrtExecutionProvider", "CPUExecutionProvider"])


def test_limits_are_checked(micro_export):
    model = OnnxModel(micro_export)
    with pytest.raises(ValueError, match="exceeds the export's max_objects"):
        model.check_limit("max_objects", model.limits["max_objects"] + 1)


def test_export_of_another_config(micro_export):
    with pytest.raises(ExportFolderError, match="holds an export of .*micro.*not of .*sam2.1_hiera_t.yaml"):
        OnnxModel(micro_export, config="configs/sam2.1/sam2.1_hiera_t.yaml")
    OnnxModel(micro_export, config="sam2.1_hiera_micro.yaml")  # the same config by file name: accepted
