"""Detection Workbench: label, inspect, train and tune object detectors on your own images."""

__version__ = "0.1.0"
