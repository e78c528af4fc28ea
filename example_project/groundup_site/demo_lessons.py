"""The rest of the demo course's lessons: a plot with Matplotlib, a tiny neural network in NumPy, an exercise.

Each lesson's slug is its course content's slug, which is how progress on a lesson finds its content.
"""

import uuid

from django.db import transaction

PLOT = """import numpy as np
import matplotlib.pyplot as plt

x = np.linspace(-3, 3, 200)
plt.plot(x, np.tanh(x), label="tanh")
plt.plot(x, np.maximum(0, x), label="ReLU")
plt.legend()
plt.title("활성화 함수 · Activation functions")
plt.show()"""

NETWORK = """import numpy as np

rng = np.random.default_rng(0)
X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
y = np.array([[0], [1], [1], [0]], dtype=float)          # XOR
W1, b1 = rng.normal(size=(2, 8)), np.zeros(8)
W2, b2 = rng.normal(size=(8, 1)), np.zeros(1)
sigmoid = lambda z: 1 / (1 + np.exp(-z))

for step in range(3001):
    h = np.tanh(X @ W1 + b1)                  # forward
    p = sigmoid(h @ W2 + b2)
    loss = np.mean((p - y) ** 2)
    dp = 2 * (p - y) / len(X) * p * (1 - p)   # backward
    dW2, db2 = h.T @ dp, dp.sum(0)
    dh = dp @ W2.T * (1 - h ** 2)
    dW1, db1 = X.T @ dh, dh.sum(0)
    for param, grad in ((W1, dW1), (b1, db1), (W2, dW2), (b2, db2)):
        param -= 1.0 * grad                   # gradient descent
    if step % 1000 == 0:
        print(f"step {step:4d}  loss {loss:.4f}")

print(np.round(p.ravel(), 2))"""

#: (slug, title, intro, blocks as (type, value))
LESSONS = [
    (
        "matplotlib-그래프",
        "Matplotlib으로 그래프 그리기 · Plotting with Matplotlib",
        "그래프는 셀 바로 아래에 그려집니다. A plot appears right under its cell.",
        [
            (
                "paragraph",
                "<p>딥러닝에서 자주 쓰는 활성화 함수 두 개를 그려 봅니다. Two activation functions.</p>",
            ),
            ("jupyter", {"source": PLOT}),
        ],
    ),
    (
        "작은-신경망",
        "넘파이로 만드는 작은 신경망 · A tiny neural network in NumPy",
        "XOR을 배우는 2층 신경망을 경사 하강법으로 학습합니다. A two-layer network learns XOR.",
        [
            (
                "markdown",
                "은닉층 $h = \\tanh(XW_1 + b_1)$, 출력 $p = \\sigma(hW_2 + b_2)$, 손실은 평균 제곱 오차입니다.",
            ),
            ("jupyter", {"source": NETWORK}),
        ],
    ),
    (
        "행렬-곱-연습",
        "연습 문제: 행렬 곱 · Exercise: matrix multiplication",
        "행렬 곱을 직접 구현해 보세요. 실행하면 숨은 검사가 정답인지 알려 줍니다.",
        [
            ("markdown", "$C_{ij} = \\sum_k A_{ik} B_{kj}$ — 리스트의 리스트로 구현하세요 (NumPy 없이)."),
            (
                "jupyter",
                {
                    "source": "def matmul(a, b):\n    # 여기에 코드를 쓰세요 · your code here\n    ...\n\nmatmul([[1, 0], [0, 1]], [[5, 6], [7, 8]])",
                    "check_code": (
                        "assert matmul([[1, 2], [3, 4]], [[5, 6], [7, 8]]) == [[19, 22], [43, 50]], "
                        "'[[1, 2], [3, 4]] x [[5, 6], [7, 8]] should be [[19, 22], [43, 50]]'\n"
                        "assert matmul([[1, 2, 3]], [[1], [2], [3]]) == [[14]], 'a 1x3 by 3x1 product is [[14]]'"
                    ),
                },
            ),
        ],
    ),
]


def _block(slug, position, kind, value):
    if kind == "jupyter":
        value = {"environment": "python3", "setup_code": "", "outputs": [], "check_code": "", **value}
    return {
        "type": kind,
        "value": value,
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"groundup-demo:{slug}:{position}")),
    }


@transaction.atomic
def load_more_lessons():
    from urllib.parse import unquote

    from wagtail.models import Site

    from .models import LessonPage

    root = Site.objects.get(is_default_site=True).root_page
    lines = []
    for slug, title, intro, blocks in LESSONS:
        body = [_block(slug, i, kind, value) for i, (kind, value) in enumerate(blocks)]
        lesson = LessonPage.objects.filter(slug=slug).first()
        if lesson is None:
            lesson = LessonPage(title=title, slug=slug, intro=intro, body=body)
            root.add_child(instance=lesson)
        else:
            lesson.title, lesson.intro, lesson.body = title, intro, body
        lesson.save_revision().publish()
        lines.append(f"  lesson {title!r} at {unquote(lesson.url or '')}")
    return lines
