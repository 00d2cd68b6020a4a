"""Background work: the QThread bridge over engine generators, and short tasks."""
