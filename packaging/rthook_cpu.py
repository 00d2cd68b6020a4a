"""PyInstaller runtime hook of the CPU bundle (``WORKBENCH_BUNDLE_FLAVOR=cpu``).

The CPU bundle leaves out the CUDA libraries that torch only loads when it runs on a GPU (cuDNN's
engine libraries, NVRTC's built-ins, ...). Hiding every GPU before torch starts makes
``torch.cuda.is_available()`` False, so the app picks the CPU instead of failing in the first
convolution on a machine that has a GPU.
"""

import os

os.environ["CUDA_VISIBLE_DEVICES"] = ""
