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


if __name__ == "__main__":
    notebook = korean_math_images()
    NotebookClient(notebook, timeout=60, kernel_name="python3", allow_errors=True).execute()
    nbformat.write(notebook, HERE / "korean_math_images.ipynb")
    print("wrote", HERE / "korean_math_images.ipynb")
