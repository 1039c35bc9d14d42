"""The processing pipeline's wiring around the media engines (shared/media):

- extraction: a blob landing (blob trigger, Event Grid source) has its metadata extracted into
  ``file_metadata`` and, when the upload asked for ``auto_transform``, its default
  transformations queued;
- requests: ``POST /transform`` (checked, recorded, queued) and ``GET /transform/{id}``;
- worker: the queue trigger that claims a transformation, runs its job and stores the output
  as a new file of the same owner (a variant of its source); the poison queue's trigger;
- reaper: the timer's pass over transformations nobody is running any more;
- output: reading a source to local disk and writing an output as a file.
"""
