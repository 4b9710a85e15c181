"""The example notebook runs top to bottom in a headless kernel, as a reader would run it."""
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "playground.ipynb"


def test_example_notebook_runs_top_to_bottom(tmp_path):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    # Any cell that raises fails the run (CellExecutionError names the cell).
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    printed = "".join(output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                      for output in cell.outputs if output.output_type == "stream" and output.name == "stdout")
    assert "epoch 200: training loss" in printed and "layer sizes: (2, 8, 8, 1)" in printed
    assert "epoch 250, test loss" in printed
    shown = [output for output in notebook.cells[2].outputs if output.output_type == "execute_result"]
    assert shown and "text/html" in shown[0]["data"]  # `pg` displayed itself
