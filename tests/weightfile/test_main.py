"""python -m core.weightfile: the report, budget and export from the command line; bad input is one line on stderr."""

from __future__ import annotations

import numpy as np
from safetensors.numpy import save_file

from core.weightfile.__main__ import main
from core.weightfile.export import load_quantized, report_from_csv, report_from_json
from core.weightfile.report import report_weights


def test_report_budget_and_export_from_the_command_line(tmp_path, capsys) -> None:
    rng = np.random.default_rng(0)
    save_file({"a.weight": rng.standard_normal((40, 300)).astype(np.float16), "ids": np.arange(3)}, tmp_path / "m.safetensors")
    paths = {name: tmp_path / name for name in ("r.json", "r.csv", "q.safetensors")}
    arguments = [str(tmp_path / "m.safetensors"), "--budget-bits", "4.5", "--method", "per channel"]
    assert main([*arguments, "--json", str(paths["r.json"]), "--csv", str(paths["r.csv"]), "--export", str(paths["q.safetensors"])]) == 0
    out, err = capsys.readouterr()
    assert "a.weight" in out and "Budget (per channel): " in out and "uniform 4 bits" in out and "every tensor in nf4: " in out
    assert "report [" in err and "100%" in err  # the progress bar
    expected = report_weights(str(tmp_path / "m.safetensors"))
    assert report_from_json(paths["r.json"].read_text()).tensors == expected.tensors
    assert report_from_csv(paths["r.csv"].read_text(), "m.safetensors").tensors[0].relative_errors == expected.tensors[0].relative_errors
    assert set(load_quantized(str(paths["q.safetensors"]))) == {"a.weight", "ids"}
    assert f"Wrote {paths['q.safetensors']}: {paths['q.safetensors'].stat().st_size:,} bytes" in out


def test_bad_input_is_one_clear_line(tmp_path, capsys) -> None:
    (tmp_path / "notes.safetensors").write_text("not weights at all, just some notes")
    assert main([str(tmp_path / "notes.safetensors")]) == 2
    assert capsys.readouterr().err.strip().endswith("starts with b'not weights '")
    save_file({"w": np.ones((4, 4), np.float32)}, tmp_path / "w.safetensors")
    assert main([str(tmp_path / "w.safetensors"), "--budget-bits", "1"]) == 2
    assert "error: the budget is below the smallest this file can take with k-means" in capsys.readouterr().err
