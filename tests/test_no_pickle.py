"""No code path unpickles (issue 17: unsafe deserialization): every model load in the package asks for
safetensors, and nothing calls pickle, torch.load without weights_only, or np.load with pickles allowed."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = [p for d in ("lyra_sim", "envs", "exporters") for p in sorted((ROOT / d).rglob("*.py"))]
OWN_LOADERS = {"DiffusersVAECodec", "DepthEstimator", "cls"}
"""Our own ``from_pretrained`` classmethods (they check for safetensors and pass use_safetensors=True)."""
NO_WEIGHTS = ("Processor", "Tokenizer", "Config")
"""``from_pretrained`` of these reads JSON / tokenizer files, never weights."""


def _calls(path):
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call):
            yield node


def _keyword(call, name):
    return next((k.value for k in call.keywords if k.arg == name), None)


def _receiver(call):
    value = call.func.value if isinstance(call.func, ast.Attribute) else None
    return value.id if isinstance(value, ast.Name) else value.attr if isinstance(value, ast.Attribute) else ""


def test_every_model_load_asks_for_safetensors():
    unsafe = []
    for path in PACKAGE:
        for call in _calls(path):
            if not (isinstance(call.func, ast.Attribute) and call.func.attr == "from_pretrained"):
                continue
            receiver = _receiver(call)
            if receiver in OWN_LOADERS or receiver.endswith(NO_WEIGHTS):
                continue
            flag = _keyword(call, "use_safetensors")
            if not (isinstance(flag, ast.Constant) and flag.value is True):
                unsafe.append(f"{path.relative_to(ROOT)}:{call.lineno} {receiver}.from_pretrained")
    assert unsafe == []


def test_nothing_unpickles():
    found = []
    for path in PACKAGE:
        text = path.read_text()
        if "import pickle" in text or "import dill" in text or "joblib" in text:
            found.append(f"{path.relative_to(ROOT)}: imports a pickler")
        for call in _calls(path):
            name = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
            receiver = _receiver(call)
            if name == "load" and receiver == "torch":
                flag = _keyword(call, "weights_only")
                if not (isinstance(flag, ast.Constant) and flag.value is True):
                    found.append(f"{path.relative_to(ROOT)}:{call.lineno} torch.load without weights_only=True")
            if name == "load" and receiver == "np":
                flag = _keyword(call, "allow_pickle")
                if not (isinstance(flag, ast.Constant) and flag.value is False):
                    found.append(f"{path.relative_to(ROOT)}:{call.lineno} np.load without allow_pickle=False")
    assert found == []
