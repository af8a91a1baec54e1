"""PAR Lab's benchmark (`make bench`): see run.py."""
