"""Dock panels (files, classes, boxes, proposals, priors, IoU, training, detections, metrics)."""
