"""Files mygpt writes: outputs that are checked before a run and owned by one run at a time (``outputs``)."""
