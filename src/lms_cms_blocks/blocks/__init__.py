"""The lesson blocks. Import paths are permanent: they are written into migrations."""

from .base import BaseStreamBlock
from .code import CodeBlock
from .jupyter import JupyterBlock, KernelspecBlock, OutputsBlock
from .media import DocumentBlock, EmbedBlock, ImageBlock
from .text import BlockQuoteBlock, CalloutBlock, HeadingBlock, MarkdownBlock, ParagraphBlock

__all__ = [
    "BaseStreamBlock",
    "BlockQuoteBlock",
    "CalloutBlock",
    "CodeBlock",
    "DocumentBlock",
    "EmbedBlock",
    "HeadingBlock",
    "ImageBlock",
    "JupyterBlock",
    "KernelspecBlock",
    "MarkdownBlock",
    "OutputsBlock",
    "ParagraphBlock",
]
