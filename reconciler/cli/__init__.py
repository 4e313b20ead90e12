"""The `orc` command line: click commands that parse flags and call the layers below."""
