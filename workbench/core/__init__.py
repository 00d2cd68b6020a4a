"""Qt-free, torch-free core: boxes, VOC records and XML, projects, geometry and metrics."""
