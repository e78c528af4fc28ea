"""Regenerates the notebooks the import/export tests read, by running them in a real IPython kernel.

python tests/lms_cms_blocks/notebooks/make_notebooks.py
"""

import base64
import io
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_raw_cell
from PIL import Image

HERE = Path(__file__).resolve().parent


def png(color, size=(24, 16)):
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def korean_math_images():
    diagram = new_markdown_cell("다이어그램 · A diagram:\n\n![행렬 곱](attachment:diagram.png)")
    diagram.attachments = {"diagram.png": {"image/png": png("navy")}}
    check = new_code_cell(
        "def matmul(a, b):\n    return [[sum(x * y for x, y in zip(row, col)) for col in zip(*b)] for row in a]"
    )
    check.metadata["lms_cms_blocks"] = {
        "setup_code": "import math",
        "check_code": "assert matmul([[1, 2]], [[3], [4]]) == [[11]]",
    }
    return new_notebook(
        cells=[
            new_markdown_cell(
                "# 넘파이 기초 · NumPy basics\n\n"
                "행렬 곱은 $C_{ij} = \\sum_k A_{ik} B_{kj}$ 입니다.\n\n"
                "$$\\|x\\|_2 = \\sqrt{\\sum_i x_i^2}$$"
            ),
            diagram,
            new_code_cell("print('안녕하세요, 세계')\n1 + 1"),
            new_code_cell(
                "import io\nfrom IPython.display import Image, display\nfrom PIL import Image as PILImage\n"
                "buffer = io.BytesIO()\nPILImage.new('RGB', (32, 20), 'orange').save(buffer, format='PNG')\n"
                "display(Image(buffer.getvalue()))"
            ),
            new_code_cell("1 / 0"),
            new_raw_cell("raw: 그대로 두세요"),
            check,
            new_code_cell(""),
        ],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
            "language_info": {"name": "python"},
        },
    )


def plots_v4_4():
    """An older notebook (nbformat 4.4: no cell ids), as Jupyter wrote them before 2021: base64 lines ending in a
    newline, a JPEG and an HTML output, two attachments in one cell, a table and aligned display math."""
    cell = new_markdown_cell(
        "## 결과 · Results\n\n| 모델 | 정확도 |\n|---|---|\n| CNN | 0.98 |\n\n"
        "![손실](attachment:loss.png) ![정확도](attachment:acc.png)\n\n"
        "$$\\begin{aligned} L &= -\\sum_i y_i \\log \\hat y_i \\\\ \\hat y &= \\mathrm{softmax}(z) \\end{aligned}$$"
    )
    cell.attachments = {
        "loss.png": {"image/png": png("red") + "\n"},
        "acc.png": {"image/png": png("green") + "\n"},
    }
    jpeg = io.BytesIO()
    Image.new("RGB", (16, 16), "purple").save(jpeg, format="JPEG")
    code = new_code_cell(
        "show_results()",
        execution_count=3,
        outputs=[
            nbformat.v4.new_output(
                "display_data",
                data={
                    "image/jpeg": base64.b64encode(jpeg.getvalue()).decode() + "\n",
                    "text/plain": "<Figure>",
                },
            ),
            nbformat.v4.new_output(
                "execute_result",
                execution_count=3,
                data={"text/html": "<table><tr><td>한글</td></tr></table>", "text/plain": "표"},
            ),
        ],
    )
    notebook = new_notebook(
        cells=[cell, code],
        metadata={
            "kernelspec": {"name": "pytorch-gpu", "display_name": "PyTorch (GPU)", "language": "python"}
        },
    )
    notebook.nbformat_minor = 4
    for item in notebook.cells:
        del item["id"]
    return notebook


if __name__ == "__main__":
    nbformat.write(plots_v4_4(), HERE / "plots_v4_4.ipynb")
    notebook = korean_math_images()
    NotebookClient(notebook, timeout=60, kernel_name="python3", allow_errors=True).execute()
    nbformat.write(notebook, HERE / "korean_math_images.ipynb")
    print("wrote", HERE / "korean_math_images.ipynb")
