"""Files mygpt writes, through one guarded way out: ``outputs`` checks that a path may be written (never
a file that is not mygpt's own), locks it for one process at a time and writes it atomically
(``atomic``). Checkpoints, metrics, figures, Hugging Face directories, prepared folders and caches all
go through it, from the library and the command line alike."""
