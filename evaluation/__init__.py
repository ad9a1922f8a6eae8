"""Quality of stylizations: VGG content/style/Gram losses, SSIM, PSNR, video warping error, reports.

``metrics`` (images; torch for the VGG parts), ``warping`` (video temporal consistency; OpenCV),
``report`` (``stylert evaluate run``: every pair x model x alpha, report.json/.md, figures).
"""
