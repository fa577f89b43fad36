"""Training and evaluation suite for SAM 2.1: fine-tuning, VOS inference and J&F.

Entry points: ``python -m training.train``, ``python -m training.eval_vos``,
``python -m training.jf``. See training/README.md.
"""
